"""Payments: created, confirmed and cancelled by residents, refunded by operators, read by all."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from ledger.application import Ledger
from ledger.engine.channel import WriterClient
from ledger.engine.writer import Writer
from tests.api.helpers import (
    SUPPLIER,
    Headers,
    World,
    account,
    checkout,
    fund,
    issue_bill,
    keyed,
    link,
    my_payments,
    open_account,
    open_wallet,
    pay,
    problem,
    register_supplier,
    wallet_balance,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES

RECIPIENT = {"inn": INN, "kpp": KPP, "name": SUPPLIER["name"], **REQUISITES}


def confirm(
    client: TestClient, resident: Headers, payment_id: str, key: str | None = None
) -> httpx.Response:
    return client.post(f"/v1/payments/{payment_id}/confirm", headers=keyed(resident, key))


def get_payment(client: TestClient, headers: Headers, payment_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/payments/{payment_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(payment: dict[str, Any]) -> list[str]:
    return [change["status"] for change in payment["status_history"]]


# --- creating ------------------------------------------------------------------------------------
def test_payment_defaults_to_what_is_due_and_shows_the_recipient(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world)

    assert payment["status"] == "requires_confirmation"
    assert payment["amount"] == BILL_TOTAL
    assert payment["method"] == "wallet"
    assert payment["wallet_id"] == world.wallet_id
    assert payment["account_id"] == world.account_id
    assert payment["supplier_id"] == world.supplier_id
    assert payment["account_number"] == ACCOUNT_NUMBER
    assert payment["recipient"] == RECIPIENT
    assert payment["refunded"] == 0
    assert payment["checkout_url"] is None


def test_new_payment_shows_in_the_history_at_once_and_moves_no_money(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 1000)

    payment = pay(client, resident, world, amount=500)

    (shown,) = my_payments(client, resident)
    assert (shown["id"], shown["status"], shown["amount"]) == (
        payment["id"],
        "requires_confirmation",
        500,
    )
    assert shown["recipient_name"] == SUPPLIER["name"]
    assert wallet_balance(client, resident, world.wallet_id) == 1000
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0


def test_payment_by_supplier_requisites_and_bill_id(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(
        client,
        resident,
        world,
        account_id=None,
        supplier_inn=INN,
        account_number=ACCOUNT_NUMBER,
        document_id="70aa000560-01-6103",  # Latin letters, as residents type them
    )

    assert payment["account_id"] == world.account_id
    assert payment["bill_id"] == world.bill_id
    assert payment["document_id"] == DOCUMENT_ID
    assert payment["amount"] == BILL_TOTAL


def test_payment_of_a_chosen_amount(client: TestClient, resident: Headers, world: World) -> None:
    assert pay(client, resident, world, amount=12345)["amount"] == 12345


def test_payment_of_an_unlinked_account_by_requisites_is_allowed(
    client: TestClient, other_resident: Headers, world: World
) -> None:
    """Paying by the supplier's requisites needs no link (ГИС ЖКХ allows paying for others)."""
    body = {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER, "method": "card"}

    response = client.post("/v1/payments", json=body, headers=keyed(other_resident))

    assert response.status_code == 201
    assert response.json()["amount"] == BILL_TOTAL


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"account_id": "00000000-0000-0000-0000-000000000001"}, 404, "unknown_account"),
        ({"account_id": None, "supplier_inn": INN}, 404, "unknown_account"),
        (
            {"account_id": None, "supplier_inn": INN, "account_number": "0667000099"},
            404,
            "unknown_account",
        ),
        (
            {"account_id": None, "supplier_inn": "6200098765", "account_number": "1"},
            422,
            "invalid_inn",
        ),
        ({"document_id": "70АА000560-01-9999"}, 404, "unknown_bill"),
        ({"document_id": "70АА000560"}, 422, "invalid_document_id"),
        ({"wallet_id": None}, 422, "wallet_not_owned"),
        ({"wallet_id": "00000000-0000-0000-0000-000000000001"}, 404, "unknown_wallet"),
        ({"method": "cash"}, 422, "validation_error"),
        ({"method": None}, 422, "validation_error"),
        ({"amount": 0}, 422, "validation_error"),
        ({"amount": -1}, 422, "validation_error"),
        ({"amount": 10.5}, 422, "validation_error"),
        ({"amount": "100"}, 422, "validation_error"),
        ({"amount": True}, 422, "validation_error"),
        ({"email": "not-an-email"}, 422, "validation_error"),
        ({"comment": "за март"}, 422, "validation_error"),
    ],
    ids=[
        "unknown-account",
        "inn-without-number",
        "unknown-number",
        "bad-inn",
        "unknown-bill",
        "bad-document-id",
        "wallet-without-id",
        "unknown-wallet",
        "unknown-method",
        "no-method",
        "zero",
        "negative",
        "fraction",
        "string-amount",
        "bool-amount",
        "bad-email",
        "unknown-field",
    ],
)
def test_payment_that_cannot_be_made_creates_nothing(
    client: TestClient,
    resident: Headers,
    world: World,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body: dict[str, Any] = {"account_id": world.account_id, "method": "wallet"}
    body["wallet_id"] = world.wallet_id
    body.update(change)

    response = client.post("/v1/payments", json=body, headers=keyed(resident))

    problem(response, status, code)
    assert my_payments(client, resident) == []


def test_bill_of_another_account_is_unknown(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    other_account = open_account(client, operator, world.supplier_id, number="0667000002")
    issue_bill(client, operator, other_account, document_id="70АА000561-01-6103")

    response = client.post(
        "/v1/payments",
        json={
            "account_id": world.account_id,
            "document_id": "70АА000561-01-6103",
            "method": "card",
        },
        headers=keyed(resident),
    )

    problem(response, 404, "unknown_bill")


def test_another_residents_wallet_cannot_pay(
    client: TestClient, resident: Headers, other_resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    body = {"account_id": world.account_id, "method": "wallet", "wallet_id": world.wallet_id}

    response = client.post(
        "/v1/payments", json={**body, "confirm": True}, headers=keyed(other_resident)
    )

    problem(response, 404, "unknown_wallet")
    assert wallet_balance(client, resident, world.wallet_id) == BILL_TOTAL


def test_nothing_due_and_no_amount_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    pay(client, resident, world, confirm=True)

    response = client.post(
        "/v1/payments",
        json={"account_id": world.account_id, "method": "card"},
        headers=keyed(resident),
    )

    problem(response, 422, "nothing_due")


def test_an_email_with_a_nul_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card", "email": "anna\x00@example.com"}
    problem(
        client.post("/v1/payments", json=body, headers=keyed(resident)), 422, "validation_error"
    )


def test_a_bill_shown_as_paid_is_not_charged_again(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    issue_bill(client, operator, account_id)
    link(client, resident)
    wallet_id = open_wallet(client, resident)
    fund(client, resident, wallet_id, 2 * BILL_TOTAL)
    world = World(supplier_id, account_id, "", wallet_id)
    pay(client, resident, world, confirm=True)  # the account's whole due, no bill named

    shown = account(client, operator, account_id)
    assert shown["bills"][0]["status"] == "paid"
    again = client.post(
        "/v1/payments",
        json={
            "account_id": account_id,
            "method": "wallet",
            "wallet_id": wallet_id,
            "document_id": DOCUMENT_ID,
        },
        headers=keyed(resident),
    )
    problem(again, 422, "nothing_due")


def test_the_default_amount_of_a_bill_payment_is_what_the_bill_shows_as_due(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    """An advance and a payment without a bill reach the oldest bill first (the read side's
    rule); the write side's default amount for each bill must agree with what is shown."""
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    link(client, resident, proof={})
    wallet_id = open_wallet(client, resident)
    fund(client, resident, wallet_id, 10 * BILL_TOTAL)
    world = World(supplier_id, account_id, "", wallet_id)
    pay(client, resident, world, amount=1000, confirm=True)  # an advance, before any bill
    march = issue_bill(client, operator, account_id)
    april = "70АА000560-01-6104"
    issue_bill(client, operator, account_id, document_id=april, period="2026-04")
    pay(client, resident, world, amount=BILL_TOTAL // 2, confirm=True)  # no bill named

    for document_id, bill_id in ((april, None), (DOCUMENT_ID, march)):
        bills = {b["document_id"]: b for b in account(client, operator, account_id)["bills"]}
        shown_due = bills[document_id]["amount_due"] - bills[document_id]["paid"]
        qr = client.get(f"/v1/bills/{document_id}/qr", params={"format": "text"}, headers=operator)
        assert f"|Sum={shown_due}|" in qr.text, qr.text  # the bill's QR asks the same
        paid = pay(client, resident, world, document_id=document_id, confirm=True)
        assert paid["amount"] == shown_due, (document_id, bill_id)
    after = account(client, operator, account_id)
    assert {b["status"] for b in after["bills"]} == {"paid"}
    assert after["balance"]["advance"] == 0


# --- wallet payments -----------------------------------------------------------------------------
def test_confirmed_wallet_payment_debits_the_wallet_and_pays_the_bill(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 600000)
    payment = pay(client, resident, world, document_id=DOCUMENT_ID)

    response = confirm(client, resident, payment["id"])

    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert wallet_balance(client, resident, world.wallet_id) == 600000 - BILL_TOTAL
    shown = account(client, operator, world.account_id)
    assert shown["balance"]["paid"] == BILL_TOTAL
    assert shown["balance"]["due"] == 0
    assert shown["bills"][0]["status"] == "paid"
    assert statuses(get_payment(client, resident, payment["id"])) == [
        "requires_confirmation",
        "processing",
        "succeeded",
    ]
    assert my_payments(client, resident)[0]["status"] == "succeeded"


def test_create_with_confirm_pays_in_one_call(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)

    payment = pay(client, resident, world, confirm=True)

    assert payment["status"] == "succeeded"
    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_insufficient_funds_changes_nothing_and_the_same_key_works_after_a_top_up(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 1000)
    payment = pay(client, resident, world)
    history = my_payments(client, resident)
    balance = account(client, operator, world.account_id)["balance"]

    refused = confirm(client, resident, payment["id"], key="confirm-1")

    body = problem(refused, 409, "insufficient_funds")
    assert (body["balance"], body["amount"]) == (1000, BILL_TOTAL)
    assert get_payment(client, resident, payment["id"])["status"] == "requires_confirmation"
    assert wallet_balance(client, resident, world.wallet_id) == 1000
    assert account(client, operator, world.account_id)["balance"] == balance
    assert my_payments(client, resident) == history

    fund(client, resident, world.wallet_id, BILL_TOTAL)
    retried = confirm(client, resident, payment["id"], key="confirm-1")
    assert retried.status_code == 200
    assert retried.json()["status"] == "succeeded"
    assert wallet_balance(client, resident, world.wallet_id) == 1000


def test_insufficient_funds_with_confirm_creates_no_payment(
    client: TestClient, resident: Headers, world: World
) -> None:
    response = client.post(
        "/v1/payments",
        json={
            "account_id": world.account_id,
            "method": "wallet",
            "wallet_id": world.wallet_id,
            "confirm": True,
        },
        headers=keyed(resident),
    )

    problem(response, 409, "insufficient_funds")
    assert my_payments(client, resident) == []


def test_overpayment_becomes_an_advance(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL + 10000)

    pay(client, resident, world, amount=BILL_TOTAL + 10000, confirm=True)

    balance = account(client, operator, world.account_id)["balance"]
    assert (balance["due"], balance["advance"]) == (0, 10000)


def test_partial_payment_leaves_the_rest_due(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 100000)

    pay(client, resident, world, amount=100000, confirm=True)

    shown = account(client, operator, world.account_id)
    assert shown["balance"]["due"] == BILL_TOTAL - 100000
    assert shown["bills"][0]["status"] == "partially_paid"
    assert pay(client, resident, world)["amount"] == BILL_TOTAL - 100000


# --- card payments -------------------------------------------------------------------------------
def test_card_payment_succeeds_when_the_acquirer_approves(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card", email="anna@example.ru")

    confirmed = confirm(client, resident, payment["id"])

    assert confirmed.status_code == 200
    processing = confirmed.json()
    assert processing["status"] == "processing"
    assert processing["wallet_id"] is None
    assert processing["checkout_url"].startswith(
        f"http://kvit.test/sandbox/checkout/{payment['id']}?amount={BILL_TOTAL}"
    )
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0
    checkout(client, processing["checkout_url"])
    shown = get_payment(client, resident, payment["id"])
    assert shown["status"] == "succeeded"
    assert shown["checkout_url"] is None
    assert statuses(shown) == ["requires_confirmation", "processing", "succeeded"]
    assert account(client, operator, world.account_id)["balance"]["paid"] == BILL_TOTAL


def test_declined_card_payment_fails_and_pays_nothing(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card", confirm=True)
    assert payment["status"] == "processing"

    checkout(client, payment["checkout_url"], approve=False)

    assert get_payment(client, resident, payment["id"])["status"] == "failed"
    assert account(client, operator, world.account_id)["balance"]["paid"] == 0
    assert my_payments(client, resident)[0]["status"] == "failed"


def test_processing_card_payment_shows_its_checkout_url_to_the_owner(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card", confirm=True)

    assert get_payment(client, resident, payment["id"])["checkout_url"] == payment["checkout_url"]


# --- cancelling ----------------------------------------------------------------------------------
def test_cancelled_payment_cannot_be_confirmed(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    payment = pay(client, resident, world)

    cancelled = client.post(f"/v1/payments/{payment['id']}/cancel", headers=keyed(resident))

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "canceled"
    problem(confirm(client, resident, payment["id"]), 409, "payment_state_conflict")
    assert wallet_balance(client, resident, world.wallet_id) == BILL_TOTAL
    assert statuses(get_payment(client, resident, payment["id"])) == [
        "requires_confirmation",
        "canceled",
    ]


def test_processing_card_payment_cannot_be_cancelled(
    client: TestClient, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card", confirm=True)

    response = client.post(f"/v1/payments/{payment['id']}/cancel", headers=keyed(resident))

    body = problem(response, 409, "payment_state_conflict")
    assert body["state"] == "processing"
    assert get_payment(client, resident, payment["id"])["status"] == "processing"


def test_succeeded_payment_cannot_be_confirmed_again(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 2 * BILL_TOTAL)
    payment = pay(client, resident, world, confirm=True)

    problem(confirm(client, resident, payment["id"]), 409, "payment_state_conflict")
    assert wallet_balance(client, resident, world.wallet_id) == BILL_TOTAL


def test_unknown_payment_cannot_be_confirmed_or_cancelled(
    client: TestClient, resident: Headers
) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"

    problem(confirm(client, resident, unknown), 404, "unknown_payment")
    cancel = client.post(f"/v1/payments/{unknown}/cancel", headers=keyed(resident))
    problem(cancel, 404, "unknown_payment")


# --- refunds -------------------------------------------------------------------------------------
def test_partial_refund_of_a_wallet_payment_returns_money_to_the_wallet(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    payment = pay(client, resident, world, confirm=True)

    response = client.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount": 1000}, headers=keyed(operator)
    )

    assert response.status_code == 201
    refund = response.json()
    assert refund["payment"]["id"] == payment["id"]
    assert refund["payment"]["refunded"] == 1000
    assert refund["payment"]["status"] == "succeeded"
    assert wallet_balance(client, resident, world.wallet_id) == 1000
    balance = account(client, operator, world.account_id)["balance"]
    assert (balance["refunded"], balance["due"]) == (1000, 1000)
    assert my_payments(client, resident)[0]["status"] == "partially_refunded"
    assert get_payment(client, operator, payment["id"])["refunded"] == 1000


def test_refunds_cannot_exceed_what_was_paid(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    payment = pay(client, resident, world, confirm=True)
    url = f"/v1/payments/{payment['id']}/refunds"
    assert client.post(url, json={"amount": BILL_TOTAL - 1}, headers=keyed(operator)).is_success

    response = client.post(url, json={"amount": 2}, headers=keyed(operator))

    body = problem(response, 409, "refund_exceeds_payment")
    assert body["refundable"] == 1
    assert wallet_balance(client, resident, world.wallet_id) == BILL_TOTAL - 1
    full = client.post(url, json={"amount": 1}, headers=keyed(operator))
    assert full.json()["payment"]["refunded"] == BILL_TOTAL
    assert my_payments(client, resident)[0]["status"] == "refunded"


def test_unconfirmed_payment_cannot_be_refunded(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world)

    response = client.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount": 1}, headers=keyed(operator)
    )

    problem(response, 409, "payment_state_conflict")
    assert get_payment(client, operator, payment["id"])["refunded"] == 0


def test_refund_of_an_unknown_payment_is_404(client: TestClient, operator: Headers) -> None:
    response = client.post(
        "/v1/payments/00000000-0000-0000-0000-000000000001/refunds",
        json={"amount": 1},
        headers=keyed(operator),
    )

    problem(response, 404, "unknown_payment")


@pytest.mark.parametrize("amount", [0, -5, 1.5, "5", None])
def test_refund_amount_must_be_positive_whole_kopecks(
    client: TestClient, operator: Headers, amount: object
) -> None:
    response = client.post(
        "/v1/payments/00000000-0000-0000-0000-000000000001/refunds",
        json={"amount": amount},
        headers=keyed(operator),
    )

    problem(response, 422, "validation_error")


# --- reading -------------------------------------------------------------------------------------
def test_operator_and_auditor_read_any_payment_with_its_history(
    client: TestClient, operator: Headers, auditor: Headers, resident: Headers, world: World
) -> None:
    payment = pay(client, resident, world, method="card")

    for headers in (resident, operator, auditor):
        shown = get_payment(client, headers, payment["id"])
        assert shown["payer_id"] == "payer-anna"
        assert shown["amount"] == BILL_TOTAL
        assert statuses(shown) == ["requires_confirmation"]


def test_unknown_payment_is_404(client: TestClient, operator: Headers) -> None:
    response = client.get("/v1/payments/00000000-0000-0000-0000-000000000001", headers=operator)

    problem(response, 404, "unknown_payment")


def test_a_wallet_payment_runs_in_the_writer_and_the_history_shows_it_when_answered(
    client: TestClient,
    resident: Headers,
    world: World,
    memory_ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The route on the event loop: the command crosses the writer's channel, and the answer
    waits, holding no thread, until the resident's history holds it; a retry is a replay."""
    fund(client, resident, world.wallet_id, 1000)
    handed_off: list[Any] = []
    to_thread = anyio.to_thread.run_sync

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(function)
        return await to_thread(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    writer = Writer(memory_ledger, tmp_path / "writer.sock")
    writer.bind()
    serving = threading.Thread(target=writer.serve_forever, daemon=True)
    serving.start()
    memory_ledger.use_writer(WriterClient(writer.path))
    request = {
        "account_id": world.account_id,
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "amount": 100,
        "confirm": True,
    }
    try:
        paid = client.post("/v1/payments", json=request, headers=keyed(resident, "via-writer"))
        threads_for_the_payment = list(handed_off)
        history = my_payments(client, resident)
        again = client.post("/v1/payments", json=request, headers=keyed(resident, "via-writer"))
    finally:
        writer.stop()
        serving.join(10)

    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "succeeded"
    # Not even to tell it is no probe: this worker saw the link (api/payment_probes.py).
    assert threads_for_the_payment == []
    assert int(paid.headers["Kvit-Position"]) > 0
    assert writer.commands == 2
    assert history[0]["id"] == paid.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == paid.json()["id"]
    assert wallet_balance(client, resident, world.wallet_id) == 900


def test_a_payment_while_the_writer_is_down_is_503_with_retry_after_and_moves_nothing(
    client: TestClient,
    resident: Headers,
    world: World,
    memory_ledger: Ledger,
    tmp_path: Path,
) -> None:
    fund(client, resident, world.wallet_id, 1000)
    memory_ledger.use_writer(WriterClient(tmp_path / "no-writer.sock"))

    response = client.post(
        "/v1/payments",
        json={
            "account_id": world.account_id,
            "method": "wallet",
            "wallet_id": world.wallet_id,
            "amount": 100,
            "confirm": True,
        },
        headers=keyed(resident, "while-down"),
    )

    problem(response, 503, "writer_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert wallet_balance(client, resident, world.wallet_id) == 1000
