"""T-Bank's notifications can be replayed, reordered or forged by anyone who can reach the
notification URL: only a Token made with the terminal's password counts, only for this
terminal, only for the T-Bank payment and amount Kvit opened, and the same facts again (or a
late AUTHORIZED after CONFIRMED) change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.acquirer.tbank.acquirer import NOTIFICATIONS_PATH
from api.acquirer.tbank.token import token
from ledger.application import Ledger
from tests.api.helpers import keyed, notification, signed
from tests.emulators.kvit_with_tbank import ANNA, Running, kvit_with_tbank
from tests.emulators.tbank import PASSWORD, TERMINAL_KEY


@pytest.fixture
def kvit(tmp_path: Path, memory_ledger: Ledger) -> Iterator[Running]:
    with kvit_with_tbank(tmp_path, memory_ledger) as running:
        yield running


def card_payment(kvit: Running, amount: int = 10_000) -> dict[str, Any]:
    body = {
        "account_id": kvit.world.account_id,
        "method": "card",
        "amount": amount,
        "email": "anna@example.ru",
        "confirm": True,
    }
    response = kvit.client.post("/v1/payments", json=body, headers=keyed(ANNA))
    assert response.status_code == 201, response.text
    paid: dict[str, Any] = response.json()
    return paid


def confirmed(kvit: Running, paid: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What T-Bank would send when the payer pays, with `changes`, signed as T-Bank signs."""
    session = next(s for s in kvit.emulator.sessions.values() if s.order_id == paid["id"])
    body = {
        "TerminalKey": TERMINAL_KEY,
        "OrderId": paid["id"],
        "Success": True,
        "Status": "CONFIRMED",
        "PaymentId": session.payment_id,
        "ErrorCode": "0",
        "Amount": paid["amount"],
        **changes,
    }
    password = body.pop("password", PASSWORD)
    body["Token"] = token(body, password)
    return body


def head(kvit: Running) -> int:
    return kvit.ledger.recorder.max_notification_id() or 0


def status(kvit: Running, payment_id: str) -> str:
    answer = kvit.client.get(f"/v1/payments/{payment_id}", headers=ANNA).json()
    return str(answer["status"])


def test_replayed_and_reordered_notifications_are_answered_ok_and_change_nothing(
    kvit: Running,
) -> None:
    paid = card_payment(kvit)
    kvit.client.get(paid["checkout_url"])
    kvit.client.post(
        paid["checkout_url"],
        content="decision=approve",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert status(kvit, paid["id"]) == "succeeded"
    authorized, confirmed_once = kvit.emulator.deliveries
    before, money = head(kvit), kvit.money()

    late = kvit.emulator.redeliver(authorized)  # AUTHORIZED after CONFIRMED
    again = kvit.emulator.redeliver(confirmed_once)

    assert (late.status_code, late.text) == (200, "OK")
    assert (again.status_code, again.text) == (200, "OK")
    assert head(kvit) == before and kvit.money() == money
    assert status(kvit, paid["id"]) == "succeeded"


@pytest.mark.parametrize(
    ("changes", "answer"),
    [
        ({"password": "guessed-password"}, 401),  # forged: not T-Bank's token
        ({"TerminalKey": "SomeoneElsesTerminal"}, 401),  # signed, for another terminal
        ({"Amount": 1}, 409),  # signed, but not what Kvit asked for
        ({"PaymentId": 1}, 409),  # signed, but another T-Bank payment
    ],
)
def test_a_notification_that_is_not_t_banks_for_this_payment_changes_nothing(
    kvit: Running, changes: dict[str, Any], answer: int
) -> None:
    paid = card_payment(kvit)
    before = head(kvit)

    response = kvit.client.post(NOTIFICATIONS_PATH, json=confirmed(kvit, paid, **changes))

    assert response.status_code == answer, response.text
    assert response.text != "OK"
    assert head(kvit) == before
    assert status(kvit, paid["id"]) == "processing"


def test_a_body_that_is_not_json_is_refused(kvit: Running) -> None:
    response = kvit.client.post(NOTIFICATIONS_PATH, content=b"Status=CONFIRMED")
    assert response.status_code == 401


def test_the_sandbox_webhook_cannot_settle_a_t_bank_payment(kvit: Running) -> None:
    paid = card_payment(kvit)
    body = notification(paid["id"], paid["amount"])

    response = kvit.client.post("/v1/acquirer/notifications", content=body, headers=signed(body))

    assert response.status_code == 404
    assert status(kvit, paid["id"]) == "processing"
