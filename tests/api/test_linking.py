"""Linking a personal account (the resident's side): by supplier ИНН and number, with proof
of possession (the ИПД printed on a bill, or an operator's confirmation) for full access, and a
limit on attempts that prove nothing (the attacks are in tests/security/test_link_probing.py)."""

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


@pytest.mark.parametrize("document_id", [DOCUMENT_ID, "70aa000560-01-6103"])
def test_the_ipd_printed_on_a_bill_proves_possession(
    client: TestClient, resident: Headers, billed: str, document_id: str
) -> None:
    created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    linked = created(
        client.post(
            "/v1/me/accounts", json=link_body(document_id=document_id), headers=keyed(resident)
        )
    )

    assert linked["access"] == "full"
    assert linked["address"] == ADDRESS and len(linked["bills"]) == 1
    mine = client.get("/v1/me/accounts", headers=resident).json()["items"]
    assert [m["access"] for m in mine] == ["full"]  # not a cached limited answer


def test_a_wrong_ipd_is_refused_naming_the_field(
    client: TestClient, resident: Headers, billed: str
) -> None:
    proof = link_body(document_id="70АА000560-01-9999")
    response = client.post("/v1/me/accounts", json=proof, headers=keyed(resident))

    assert problem(response, 422, "link_proof_mismatch")["field"] == "document_id"
    assert client.get("/v1/me/accounts", headers=resident).json()["items"] == []


def test_a_bill_total_is_no_longer_a_proof(
    client: TestClient, resident: Headers, billed: str
) -> None:
    body = link_body(bill_total=BILL_TOTAL)
    response = client.post("/v1/me/accounts", json=body, headers=keyed(resident))

    found = problem(response, 422, "validation_error")
    assert "ИПД" in found["errors"][0]["msg"]
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


def test_attempts_that_prove_nothing_are_limited_per_payer(
    tmp_path: Path, memory_ledger: Ledger, operator: Headers, resident: Headers
) -> None:
    app = build_app(tmp_path, memory_ledger, link_attempts_limit=3)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        account_id = open_account(client, operator, register_supplier(client, operator))
        issue_bill(client, operator, account_id)
        missing = {"supplier_inn": INN, "account_number": "0000000001"}  # unknown numbers count
        problem(client.post("/v1/me/accounts", json=missing, headers=keyed(resident)), 404,
                "unknown_account")  # fmt: skip
        wrong = client.post(
            "/v1/me/accounts",
            json=link_body(document_id="70АА000560-01-9999"),
            headers=keyed(resident),
        )
        problem(wrong, 422, "link_proof_mismatch")
        unproven = client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident))
        assert created(unproven)["access"] == "limited"  # so does a link that shows `due`

        # The limit is reached: even the right proof, or an unknown number, answers 429 alike.
        for body in (link_body(document_id=DOCUMENT_ID), {**link_body(), "account_number": "9"}):
            refused = client.post("/v1/me/accounts", json=body, headers=keyed(resident))
            problem(refused, 429, "link_attempts_exceeded")
            assert int(refused.headers["retry-after"]) > 0
        other = bearer(Role.RESIDENT, "payer-boris")
        ok = client.post(
            "/v1/me/accounts", json=link_body(document_id=DOCUMENT_ID), headers=keyed(other)
        )
        assert ok.status_code == 201 and ok.json()["access"] == "full"


def test_malformed_input_is_refused_without_counting(
    tmp_path: Path, memory_ledger: Ledger, operator: Headers, resident: Headers
) -> None:
    app = build_app(tmp_path, memory_ledger, link_attempts_limit=1)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        open_account(client, operator, register_supplier(client, operator))
        for body in (
            {"supplier_inn": "6200098765", "account_number": ACCOUNT_NUMBER},
            link_body(document_id="not an ИПД"),
        ):
            response = client.post("/v1/me/accounts", json=body, headers=keyed(resident))
            assert response.status_code == 422, response.text

        assert (
            created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))[
                "access"
            ]
            == "limited"
        )
