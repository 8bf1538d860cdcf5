"""The acquirer's webhook: signed outcomes of card payments and top-ups; replays are harmless."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.acquirer.base import CardOrder, Checkout
from api.acquirer.signature import HEADER, TOLERANCE_SECONDS
from api.app import create_app
from ledger.application import Ledger
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    World,
    account,
    api_settings,
    keyed,
    make_world,
    my_payments,
    notification,
    notify,
    pay,
    problem,
    signed,
    wallet_balance,
)
from tests.fixtures import BILL_TOTAL


@pytest.fixture
def card_payment(client: TestClient, resident: Headers, world: World) -> dict[str, Any]:
    """A card payment of the whole bill, waiting for the acquirer."""
    return pay(client, resident, world, method="card", confirm=True)


@pytest.fixture
def top_up(client: TestClient, resident: Headers, world: World) -> dict[str, Any]:
    response = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": 7000}, headers=keyed(resident)
    )
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def test_signed_success_settles_a_card_payment(
    client: TestClient, operator: Headers, world: World, card_payment: dict[str, Any]
) -> None:
    response = notify(client, notification(card_payment["id"], BILL_TOTAL))

    assert response.status_code == 200
    assert response.json() == {
        "operation_id": card_payment["id"],
        "kind": "payment",
        "status": "succeeded",
    }
    assert account(client, operator, world.account_id)["balance"]["paid"] == BILL_TOTAL


def test_replayed_notification_is_harmless(
    client: TestClient,
    operator: Headers,
    resident: Headers,
    world: World,
    card_payment: dict[str, Any],
) -> None:
    body = notification(card_payment["id"], BILL_TOTAL)
    headers = signed(body)
    first = notify(client, body, headers)
    history = my_payments(client, resident)

    replay = notify(client, body, headers)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert account(client, operator, world.account_id)["balance"]["paid"] == BILL_TOTAL
    assert my_payments(client, resident) == history


def test_signed_decline_fails_a_card_payment(
    client: TestClient, resident: Headers, card_payment: dict[str, Any]
) -> None:
    response = notify(client, notification(card_payment["id"], BILL_TOTAL, "declined"))

    assert response.json()["status"] == "failed"
    shown = client.get(f"/v1/payments/{card_payment['id']}", headers=resident).json()
    assert shown["status"] == "failed"


def test_success_after_a_decline_is_a_conflict(
    client: TestClient, operator: Headers, world: World, card_payment: dict[str, Any]
) -> None:
    notify(client, notification(card_payment["id"], BILL_TOTAL, "declined"))

    response = notify(client, notification(card_payment["id"], BILL_TOTAL, ref="acq-2"))

    problem(response, 409, "payment_state_conflict")
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0


def test_notification_for_a_payment_not_yet_confirmed_is_a_conflict(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card")

    response = notify(client, notification(payment["id"], BILL_TOTAL))

    problem(response, 409, "payment_state_conflict")


def test_amount_that_differs_from_the_operation_is_refused(
    client: TestClient, operator: Headers, world: World, card_payment: dict[str, Any]
) -> None:
    response = notify(client, notification(card_payment["id"], BILL_TOTAL - 1))

    body = problem(response, 409, "operation_mismatch")
    assert body["expected"] == BILL_TOTAL
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0


def test_wallet_payment_cannot_be_settled_by_the_acquirer(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world)

    problem(notify(client, notification(payment["id"], BILL_TOTAL)), 409, "operation_mismatch")


def test_signed_success_credits_a_top_up_once(
    client: TestClient, resident: Headers, world: World, top_up: dict[str, Any]
) -> None:
    body = notification(top_up["id"], 7000)

    first = notify(client, body)
    replay = notify(client, body)

    assert first.json() == {"operation_id": top_up["id"], "kind": "top_up", "status": "succeeded"}
    assert replay.json() == first.json()
    assert wallet_balance(client, resident, world.wallet_id) == 7000


def test_declined_top_up_then_success_is_a_conflict(
    client: TestClient, resident: Headers, world: World, top_up: dict[str, Any]
) -> None:
    declined = notify(client, notification(top_up["id"], 7000, "declined"))

    late = notify(client, notification(top_up["id"], 7000, ref="acq-2"))

    assert declined.json()["status"] == "failed"
    problem(late, 409, "top_up_state_conflict")
    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_top_up_amount_mismatch_is_refused(
    client: TestClient, resident: Headers, world: World, top_up: dict[str, Any]
) -> None:
    problem(notify(client, notification(top_up["id"], 7001)), 409, "operation_mismatch")
    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_unknown_operation_is_404(client: TestClient) -> None:
    response = notify(client, notification("00000000-0000-0000-0000-000000000001", 100))

    problem(response, 404, "unknown_top_up")


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {},
        lambda body: {HEADER: "garbage"},
        lambda body: {HEADER: "t=abc,v1=00"},
        lambda body: signed(body, secret="not-the-shared-secret"),
        lambda body: signed(body, at=int(time.time()) - 2 * TOLERANCE_SECONDS),
        lambda body: signed(body, at=int(time.time()) + 2 * TOLERANCE_SECONDS),
        lambda body: signed(body + b" "),  # signature of other bytes
    ],
    ids=["missing", "garbage", "bad-timestamp", "wrong-secret", "stale", "future", "other-body"],
)
def test_bad_or_stale_signature_is_401_and_changes_nothing(
    client: TestClient,
    operator: Headers,
    world: World,
    card_payment: dict[str, Any],
    make_headers: Any,
) -> None:
    body = notification(card_payment["id"], BILL_TOTAL)

    response = client.post(
        "/v1/acquirer/notifications",
        content=body,
        headers={"content-type": "application/json", **make_headers(body)},
    )

    problem(response, 401, "unauthorized")
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0


def test_a_non_ascii_signature_is_a_401_not_a_500(client: TestClient) -> None:
    response = client.post(
        "/v1/acquirer/notifications",
        content=b"{}",
        headers={HEADER: f"t={int(time.time())},v1=\u00ff".encode("latin-1")},  # type: ignore[dict-item]
    )
    problem(response, 401, "unauthorized")


def test_signature_within_five_minutes_is_accepted(
    client: TestClient, card_payment: dict[str, Any]
) -> None:
    body = notification(card_payment["id"], BILL_TOTAL)

    response = notify(client, body, signed(body, at=int(time.time()) - 290))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"operation_id": "00000000-0000-0000-0000-000000000001", "status": "succeeded"}',
        b'{"operation_id": "x", "status": "succeeded", "amount": 1, "acquirer_ref": "a"}',
        b'{"operation_id": "00000000-0000-0000-0000-000000000001", "status": "refunded",'
        b' "amount": 1, "acquirer_ref": "a"}',
        b'{"operation_id": "00000000-0000-0000-0000-000000000001", "status": "succeeded",'
        b' "amount": 1, "acquirer_ref": "a", "extra": true}',
        b'{"operation_id": "00000000-0000-0000-0000-000000000001", "status": "succeeded",'
        b' "amount": "1", "acquirer_ref": "a"}',
    ],
    ids=["not-json", "missing-fields", "bad-uuid", "unknown-status", "unknown-field", "string"],
)
def test_signed_but_malformed_body_is_a_validation_error(client: TestClient, body: bytes) -> None:
    problem(notify(client, body), 422, "validation_error")


def test_webhook_needs_neither_a_token_nor_an_idempotency_key(
    client: TestClient, card_payment: dict[str, Any]
) -> None:
    body = notification(card_payment["id"], BILL_TOTAL)

    response = client.post(
        "/v1/acquirer/notifications",
        content=body,
        headers={HEADER: signed(body)[HEADER], "content-type": "application/json"},
    )

    assert response.status_code == 200


def test_sandbox_checkout_page_shows_the_amount_in_rubles(
    client: TestClient, card_payment: dict[str, Any]
) -> None:
    page = client.get(card_payment["checkout_url"])

    assert page.status_code == 200
    assert "5234,17 ₽" in page.text


def visible_words(page: str) -> list[str]:
    """The Latin words a reader sees on an HTML page (its style and markup left out)."""
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)
    return re.findall(r"[A-Za-z]{2,}", html.unescape(text))


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_the_sandbox_checkout_speaks_one_language(
    client: TestClient, card_payment: dict[str, Any], decision: str
) -> None:
    """It ended in two ("Операция одобрена. Webhook answered 200.")."""
    url = card_payment["checkout_url"]
    page = client.get(url)
    amount = parse_qs(urlsplit(url).query)["amount"][0]
    result = client.post(
        urlsplit(url).path,
        content=f"decision={decision}&amount={amount}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 'data-notification-status="200"' in result.text
    assert (visible_words(page.text), visible_words(result.text)) == ([], [])


class RecordingAcquirer:
    """A real acquirer's stand-in: `create_app(acquirer=…)` takes any `Acquirer`."""

    name = "recording"

    def __init__(self) -> None:
        self.asked: list[tuple[UUID, int, str]] = []

    def open(self, order: CardOrder) -> Checkout:
        self.asked.append((order.operation_id, order.amount, order.description))
        return Checkout(
            f"r-{order.operation_id}", f"https://acquirer.example/pay/{order.operation_id}"
        )


def test_an_injected_acquirer_takes_the_card_payments_and_the_sandbox_stays_out(
    tmp_path: Path, memory_ledger: Ledger, operator: Headers, resident: Headers
) -> None:
    acquirer = RecordingAcquirer()
    app = create_app(api_settings(tmp_path), ledger=memory_ledger, acquirer=acquirer)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        world = make_world(client, operator, resident)
        paid = pay(client, resident, world, method="card", confirm=True)
        assert paid["checkout_url"] == f"https://acquirer.example/pay/{paid['id']}"
        described = f"Оплата ЖКУ, лицевой счёт {paid['account_number']}"
        assert acquirer.asked == [(UUID(paid["id"]), paid["amount"], described)]
        assert client.get(f"/sandbox/checkout/{paid['id']}?amount=1").status_code == 404
