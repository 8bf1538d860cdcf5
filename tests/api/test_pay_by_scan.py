"""Paying by a scanned QR code, or by the requisites printed on a receipt."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import Headers, World, fund, keyed, problem, wallet_balance
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES

OLD_ACCOUNT = "40702810838250123016"  # a valid key for the БИК, but not the supplier's now


def payload_of(client: TestClient, resident: Headers) -> str:
    return client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=text", headers=resident).text


def test_resolve_shows_what_a_scan_would_pay_without_paying(
    client: TestClient, world: World, resident: Headers
) -> None:
    response = client.post(
        "/v1/qr:resolve", json={"qr_payload": payload_of(client, resident)}, headers=resident
    )
    assert response.status_code == 200, response.text
    payee = response.json()
    assert (payee["account_id"], payee["document_id"]) == (world.account_id, DOCUMENT_ID)
    assert (payee["amount"], payee["due"], payee["period"]) == (BILL_TOTAL, BILL_TOTAL, "2026-03")
    assert payee["recipient"]["settlement_account"] == REQUISITES["settlement_account"]


def test_a_scanned_bill_pays_that_bill_its_sum(
    client: TestClient, world: World, resident: Headers
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    body = {
        "qr_payload": payload_of(client, resident),
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "confirm": True,
    }
    response = client.post("/v1/payments", json=body, headers=keyed(resident, "scan-1"))
    assert response.status_code == 201, response.text
    paid = response.json()
    assert (paid["status"], paid["amount"], paid["document_id"]) == (
        "succeeded",
        BILL_TOTAL,
        DOCUMENT_ID,
    )
    assert wallet_balance(client, resident, world.wallet_id) == 0
    replay = client.post("/v1/payments", json=body, headers=keyed(resident, "scan-1"))
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_a_sloppy_real_world_payload_resolves_too(
    client: TestClient, world: World, resident: Headers
) -> None:
    sloppy = (
        f"ST00012 | Name=ООО УК | personalAcc={REQUISITES['settlement_account']} | "
        f"BankName=Сбер | bic={REQUISITES['bik']} | CorrespAcc=0 | payeeINN={INN} | "
        f"Purpose=за 03.2026 ипд 70aa000560-01-6103 | persacc={ACCOUNT_NUMBER} |"
    )
    payee = client.post("/v1/qr:resolve", json={"qr_payload": sloppy}, headers=resident).json()
    assert (payee["document_id"], payee["amount"]) == (DOCUMENT_ID, BILL_TOTAL)


def test_old_requisites_in_a_payload_are_refused_and_nothing_is_paid(
    client: TestClient, world: World, resident: Headers
) -> None:
    stale = payload_of(client, resident).replace(REQUISITES["settlement_account"], OLD_ACCOUNT)
    body = {"qr_payload": stale, "method": "card"}
    found = problem(
        client.post("/v1/payments", json=body, headers=keyed(resident)), 422, "requisites_mismatch"
    )
    assert found["fields"] == ["settlement_account"]
    assert client.get("/v1/me/payments", headers=resident).json()["items"] == []


def test_a_broken_payload_names_the_key_and_reason(
    client: TestClient, world: World, resident: Headers
) -> None:
    broken = payload_of(client, resident).replace(INN, "7701234561")
    found = problem(
        client.post("/v1/qr:resolve", json={"qr_payload": broken}, headers=resident),
        422,
        "invalid_qr_payload",
    )
    assert (found["key"], found["reason"]) == ("PayeeINN", "invalid_inn")
    found = problem(
        client.post("/v1/qr:resolve", json={"qr_payload": "hello"}, headers=resident),
        422,
        "invalid_qr_payload",
    )
    assert found["reason"] == "bad_header"


def test_paying_by_requisites_without_a_bill(
    client: TestClient, world: World, resident: Headers
) -> None:
    recipient = {
        "inn": INN,
        "kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
    }
    body = {
        "recipient": recipient,
        "account_number": ACCOUNT_NUMBER,
        "amount": 1000,
        "method": "card",
    }
    response = client.post("/v1/payments", json=body, headers=keyed(resident))
    assert response.status_code == 201, response.text
    assert response.json()["account_id"] == world.account_id
    wrong = body | {"recipient": recipient | {"settlement_account": OLD_ACCOUNT}}
    problem(client.post("/v1/payments", json=wrong, headers=keyed(resident)), 422,
            "requisites_mismatch")  # fmt: skip
    both = body | {"account_id": world.account_id}
    problem(client.post("/v1/payments", json=both, headers=keyed(resident)), 422,
            "ambiguous_payee")  # fmt: skip
