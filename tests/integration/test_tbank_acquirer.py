"""T-Bank as the acquirer, end to end over real HTTP against the T-Bank emulator, on an
in-memory ledger and on PostgreSQL: pay, decline, cancel in flight, a lost notification
settled by reconciliation, a saved card paid with (also when 3-D Secure is asked) and removed,
a refund, and the money exact after each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.acquirer.base import AcquirerApi
from api.acquirer.reconcile import reconcile
from tests.api.helpers import keyed
from tests.conftest import make_ledger
from tests.emulators.kvit_with_tbank import AGENT_PHONE, ANNA, OPERATOR, Running, kvit_with_tbank
from tests.fixtures import BILL_TOTAL, INN, LINES

EMAIL = "anna@example.ru"


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def kvit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    ledger = make_ledger(request.param, request)
    try:
        with kvit_with_tbank(tmp_path, ledger) as running:
            yield running
    finally:
        ledger.close()


def pay_by_card(kvit: Running, **body: Any) -> dict[str, Any]:
    request = {
        "account_id": kvit.world.account_id,
        "document_id": None,
        "method": "card",
        "email": EMAIL,
        "confirm": True,
        **body,
    }
    response = kvit.client.post("/v1/payments", json=request, headers=keyed(ANNA))
    assert response.status_code == 201, response.text
    paid: dict[str, Any] = response.json()
    return paid


def at_page(kvit: Running, checkout_url: str, *, approve: bool = True) -> None:
    """The payer on T-Bank's page: it opens, then approves or declines."""
    assert kvit.client.get(checkout_url).status_code == 200
    decision = "approve" if approve else "decline"
    kvit.client.post(
        checkout_url,
        content=f"decision={decision}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def payment(kvit: Running, payment_id: str) -> dict[str, Any]:
    body: dict[str, Any] = kvit.client.get(f"/v1/payments/{payment_id}", headers=ANNA).json()
    return body


def account_paid(kvit: Running) -> int:
    """What the account received, less refunds, once the read models include every write."""
    head = kvit.ledger.recorder.max_notification_id() or 0
    body = kvit.client.get(
        f"/v1/accounts/{kvit.world.account_id}", params={"min_position": head}, headers=ANNA
    ).json()
    return int(body["balance"]["paid"]) - int(body["balance"]["refunded"])


def untouched(kvit: Running) -> None:
    assert account_paid(kvit) == 0
    assert kvit.money() == {"total": 0} or set(kvit.money().values()) == {0}


def test_a_card_payment_is_paid_at_the_page_with_its_receipt_and_the_card_saved(
    kvit: Running,
) -> None:
    paid = pay_by_card(kvit, document_id="70АА000560-01-6103", save_card=True)
    assert paid["status"] == "processing"
    assert paid["checkout_url"].startswith(kvit.emulator.base_url + "/pay/")

    init = [fields for method, fields in kvit.emulator.requests if method == "Init"]
    assert len(init) == 1 and init[0]["OrderId"] == paid["id"]
    assert init[0]["Amount"] == BILL_TOTAL and init[0]["Recurrent"] == "Y"
    receipt = init[0]["Receipt"]
    assert receipt["Email"] == EMAIL
    assert [(i["Name"], i["Amount"]) for i in receipt["Items"]] == [
        (line["service"], line["amount"]) for line in LINES
    ]
    assert receipt["Items"][0]["AgentData"]["AgentSign"] == "paying_agent"
    assert receipt["Items"][0]["AgentData"]["Phones"] == [AGENT_PHONE]
    assert receipt["Items"][0]["SupplierInfo"]["Inn"] == INN

    at_page(kvit, paid["checkout_url"])

    assert [d.body["Status"] for d in kvit.emulator.deliveries] == ["AUTHORIZED", "CONFIRMED"]
    assert {(d.status_code, d.text) for d in kvit.emulator.deliveries} == {(200, "OK")}
    assert payment(kvit, paid["id"])["status"] == "succeeded"
    assert account_paid(kvit) == BILL_TOTAL
    money = kvit.money()
    assert money["total"] == 0 and money["acquirer"] == BILL_TOTAL
    cards = kvit.client.get("/v1/me/cards", headers=ANNA).json()["items"]
    assert [(c["last4"], c["exp_date"]) for c in cards] == [("0777", "1230")]
    assert "rebill_id" not in cards[0] and "pan" not in cards[0]
    config = kvit.client.get("/cabinet/config.json").json()
    assert config["saved_cards"] is True and config["receipt_email"] is True


def test_a_declined_card_fails_the_payment_and_moves_no_money(kvit: Running) -> None:
    paid = pay_by_card(kvit, amount=10_000)
    at_page(kvit, paid["checkout_url"], approve=False)

    assert payment(kvit, paid["id"])["status"] == "failed"
    assert [d.text for d in kvit.emulator.deliveries] == ["OK"]
    untouched(kvit)


def test_a_payment_canceled_in_flight_closes_the_session_at_t_bank(kvit: Running) -> None:
    paid = pay_by_card(kvit, amount=10_000)
    kvit.client.get(paid["checkout_url"])  # the page was opened, nothing paid

    canceled = kvit.client.post(f"/v1/payments/{paid['id']}/cancel", headers=keyed(ANNA))

    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert kvit.emulator.sessions[int(next(iter(kvit.emulator.sessions)))].status == "CANCELED"
    at_page(kvit, paid["checkout_url"])  # too late: the session is closed
    assert payment(kvit, paid["id"])["status"] == "canceled"
    untouched(kvit)


def test_a_lost_notification_is_settled_by_reconciliation(kvit: Running) -> None:
    kvit.emulator.lose_notifications = True
    paid = pay_by_card(kvit, amount=10_000, save_card=True)
    waiting = pay_by_card(kvit, amount=2_000)
    at_page(kvit, paid["checkout_url"])
    assert payment(kvit, paid["id"])["status"] == "processing"

    acquirer = kvit.app.state.services.acquirer
    assert isinstance(acquirer, AcquirerApi)
    report = reconcile(kvit.ledger, acquirer)

    assert (report.checked, report.settled, report.waiting) == (2, 1, 1)
    assert payment(kvit, paid["id"])["status"] == "succeeded"
    assert payment(kvit, waiting["id"])["status"] == "processing"
    assert account_paid(kvit) == 10_000
    assert kvit.money()["total"] == 0
    cards = kvit.client.get("/v1/me/cards", headers=ANNA).json()["items"]
    assert [c["last4"] for c in cards] == ["0777"]  # from GetCardList, as no notification came
    again = reconcile(kvit.ledger, acquirer, after=report.after)
    assert (again.checked, again.settled) == (1, 0)


def test_a_saved_card_pays_in_one_step_and_once_removed_is_gone(kvit: Running) -> None:
    first = pay_by_card(kvit, amount=10_000, save_card=True)
    at_page(kvit, first["checkout_url"])
    card = kvit.client.get("/v1/me/cards", headers=ANNA).json()["items"][0]

    second = pay_by_card(kvit, amount=20_000, saved_card_id=card["card_id"])

    assert second["status"] == "succeeded" and second["checkout_url"] is None
    assert [m for m, _ in kvit.emulator.requests].count("Charge") == 1
    assert account_paid(kvit) == 30_000
    assert kvit.money()["total"] == 0

    removed = kvit.client.delete(f"/v1/me/cards/{card['card_id']}", headers=ANNA)
    assert removed.status_code == 204, removed.text
    assert kvit.client.get("/v1/me/cards", headers=ANNA).json()["items"] == []
    assert kvit.emulator.customers and all(
        c.status == "D" for cards in kvit.emulator.customers.values() for c in cards.values()
    )
    refused = kvit.client.post(
        "/v1/payments",
        json={
            "account_id": kvit.world.account_id,
            "method": "card",
            "email": EMAIL,
            "confirm": True,
            "amount": 100,
            "saved_card_id": card["card_id"],
        },
        headers=keyed(ANNA),
    )
    assert refused.status_code == 404 and refused.json()["code"] == "unknown_saved_card"


def test_a_saved_card_that_needs_3ds_goes_to_the_payment_page(kvit: Running) -> None:
    first = pay_by_card(kvit, amount=10_000, save_card=True)
    at_page(kvit, first["checkout_url"])
    card = kvit.client.get("/v1/me/cards", headers=ANNA).json()["items"][0]
    kvit.emulator.three_ds_cards.add(card["card_id"])

    second = pay_by_card(kvit, amount=20_000, saved_card_id=card["card_id"])

    assert second["status"] == "processing"
    assert second["checkout_url"].startswith(kvit.emulator.base_url + "/pay/")
    at_page(kvit, second["checkout_url"])
    assert payment(kvit, second["id"])["status"] == "succeeded"
    assert account_paid(kvit) == 30_000


def test_a_refund_goes_back_to_the_card_once(kvit: Running) -> None:
    paid = pay_by_card(kvit, amount=10_000)
    at_page(kvit, paid["checkout_url"])
    key = keyed(OPERATOR)

    for _ in range(2):  # a retry with the same key refunds nothing more
        refund = kvit.client.post(
            f"/v1/payments/{paid['id']}/refunds", json={"amount": 4_000}, headers=key
        )
        assert refund.status_code in (200, 201), refund.text

    session = next(iter(kvit.emulator.sessions.values()))
    assert (session.status, session.refunded) == ("PARTIAL_REFUNDED", 4_000)
    assert payment(kvit, paid["id"])["refunded"] == 4_000
    assert account_paid(kvit) == 6_000
    money = kvit.money()
    assert money["total"] == 0 and money["acquirer"] == 6_000
    assert kvit.emulator.deliveries[-1].text == "OK"  # PARTIAL_REFUNDED changes nothing


def test_card_methods_stay_off_without_an_acquirer(tmp_path: Path) -> None:
    """KVIT_ACQUIRER=none keeps issue 16's answer: 501 card_payments_unavailable."""
    from ledger.application import Ledger
    from ledger.engine.persistence import in_memory_env
    from tests.api.helpers import build_app

    ledger = Ledger(in_memory_env())
    with TestClient(build_app(tmp_path, ledger, acquirer="none")) as client:
        listed = client.get("/v1/me/cards", headers=ANNA)
        removed = client.delete("/v1/me/cards/1", headers=ANNA)
        config = client.get("/cabinet/config.json").json()
    ledger.close()
    assert listed.json() == {"items": []}
    assert removed.status_code == 404
    assert config["card_payments"] is False
