"""Linking a personal account (the resident's side): by supplier ИНН and number, with proof
of possession (an ИПД or a bill total, or an operator's confirmation) for full access, and a
limit on failed attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from tests.api.helpers import (
    ADDRESS,
    PUBLIC_URL,
    Headers,
    bearer,
    build_app,
    created,
    issue_bill,
    keyed,
    link,
    open_account,
    problem,
    register_supplier,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, OTHER_INN


def test_resident_links_an_account_by_inn_and_number(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    issue_bill(client, operator, account_id)
    body = {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER}

    response = client.post("/v1/me/accounts", json=body, headers=keyed(resident))

    assert response.status_code == 201
    linked = response.json()
    assert linked["id"] == account_id
    assert linked["balance"]["due"] == BILL_TOTAL
    assert linked["access"] == "limited"  # no proof of possession: below
    mine = client.get("/v1/me/accounts", headers=resident)
    assert mine.status_code == 200
    assert mine.json() == {"items": [linked], "next_cursor": None}


def test_linking_twice_keeps_one_link(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    open_account(client, operator, register_supplier(client, operator))

    link(client, resident, proof={})
    link(client, resident, proof={})

    assert len(client.get("/v1/me/accounts", headers=resident).json()["items"]) == 1


def test_resident_without_links_has_no_accounts(client: TestClient, resident: Headers) -> None:
    response = client.get("/v1/me/accounts", headers=resident)

    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"supplier_inn": INN, "account_number": "0667000099"}, 404, "unknown_account"),
        ({"supplier_inn": OTHER_INN, "account_number": ACCOUNT_NUMBER}, 404, "unknown_account"),
        ({"supplier_inn": "6200098765", "account_number": ACCOUNT_NUMBER}, 422, "invalid_inn"),
        ({"supplier_inn": "77012", "account_number": ACCOUNT_NUMBER}, 422, "invalid_inn"),
        ({"supplier_inn": INN}, 422, "validation_error"),
        ({"supplier_inn": INN, "account_number": ACCOUNT_NUMBER, "x": 1}, 422, "validation_error"),
    ],
    ids=["unknown-number", "unknown-supplier", "bad-inn", "short-inn", "no-number", "extra"],
)
def test_link_that_cannot_be_made_links_nothing(
    client: TestClient,
    operator: Headers,
    resident: Headers,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    open_account(client, operator, register_supplier(client, operator))

    response = client.post("/v1/me/accounts", json=body, headers=keyed(resident))

    problem(response, status, code)
    assert client.get("/v1/me/accounts", headers=resident).json()["items"] == []


@pytest.fixture
def billed(client: TestClient, operator: Headers) -> str:
    account_id = open_account(client, operator, register_supplier(client, operator))
    issue_bill(client, operator, account_id)
    return account_id


def link_body(**proof: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER}
    if proof:
        body["proof"] = proof
    return body


def test_a_link_without_proof_shows_a_masked_address_and_what_is_due_only(
    client: TestClient, resident: Headers, billed: str
) -> None:
    linked = created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    assert linked["access"] == "limited"
    assert linked["address"] != ADDRESS and "Примерная" not in linked["address"]
    assert linked["address"].startswith("г. М")
    assert linked["els"] is None and linked["bills"] == []
    assert linked["balance"] == {
        "accrued": None,
        "paid": None,
        "refunded": None,
        "due": BILL_TOTAL,
        "advance": None,
    }
    shown = client.get(f"/v1/accounts/{billed}", headers=resident).json()
    assert shown["access"] == "limited" and shown["bills"] == []
    mine = client.get("/v1/me/accounts", headers=resident).json()["items"]
    assert [m["access"] for m in mine] == ["limited"]
    history = client.get(f"/v1/accounts/{billed}", params={"as_of": "1"}, headers=resident)
    problem(history, 403, "link_not_proven")


@pytest.mark.parametrize("proof", [{"document_id": DOCUMENT_ID}, {"bill_total": BILL_TOTAL}])
def test_the_ipd_or_a_bill_total_proves_possession(
    client: TestClient, resident: Headers, billed: str, proof: dict[str, Any]
) -> None:
    created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    linked = created(
        client.post("/v1/me/accounts", json=link_body(**proof), headers=keyed(resident))
    )

    assert linked["access"] == "full"
    assert linked["address"] == ADDRESS and len(linked["bills"]) == 1
    mine = client.get("/v1/me/accounts", headers=resident).json()["items"]
    assert [m["access"] for m in mine] == ["full"]  # not a cached limited answer


@pytest.mark.parametrize(
    "proof, field",
    [({"document_id": "70АА000560-01-9999"}, "document_id"), ({"bill_total": 1}, "bill_total")],
)
def test_a_wrong_proof_is_refused_naming_the_field(
    client: TestClient, resident: Headers, billed: str, proof: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/me/accounts", json=link_body(**proof), headers=keyed(resident))

    assert problem(response, 422, "link_proof_mismatch")["field"] == field
    assert client.get("/v1/me/accounts", headers=resident).json()["items"] == []


def test_an_operator_can_confirm_a_payers_link(
    client: TestClient, operator: Headers, resident: Headers, billed: str
) -> None:
    created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    confirmed = client.post(
        f"/v1/accounts/{billed}/payers", json={"payer_id": "payer-anna"}, headers=keyed(operator)
    )

    assert confirmed.status_code == 200, confirmed.text
    shown = client.get(f"/v1/accounts/{billed}", headers=resident).json()
    assert shown["access"] == "full" and shown["address"] == ADDRESS


def test_failed_link_attempts_are_limited_per_payer(
    tmp_path: Path, memory_ledger: Ledger, operator: Headers, resident: Headers
) -> None:
    app = build_app(tmp_path, memory_ledger, link_attempts_limit=3)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        account_id = open_account(client, operator, register_supplier(client, operator))
        issue_bill(client, operator, account_id)
        for number in ("0000000001", "0000000002"):  # unknown numbers count
            missing = {"supplier_inn": INN, "account_number": number}
            response = client.post("/v1/me/accounts", json=missing, headers=keyed(resident))
            problem(response, 404, "unknown_account")
        wrong = client.post(
            "/v1/me/accounts", json=link_body(bill_total=1), headers=keyed(resident)
        )
        problem(wrong, 422, "link_proof_mismatch")

        # The limit is reached: even the right proof, or an unknown number, answers 429 alike.
        for body in (link_body(document_id=DOCUMENT_ID), {**link_body(), "account_number": "9"}):
            refused = client.post("/v1/me/accounts", json=body, headers=keyed(resident))
            problem(refused, 429, "link_attempts_exceeded")
            assert int(refused.headers["retry-after"]) > 0
        other = bearer(Role.RESIDENT, "payer-boris")
        ok = client.post(
            "/v1/me/accounts", json=link_body(bill_total=BILL_TOTAL), headers=keyed(other)
        )
        assert ok.status_code == 201 and ok.json()["access"] == "full"
