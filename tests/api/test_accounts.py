"""Personal accounts and bills: opened and billed by operators, read by residents (linking:
tests/api/test_linking.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    ADDRESS,
    PERIOD,
    Headers,
    World,
    account,
    bill_body,
    issue_bill,
    keyed,
    open_account,
    problem,
    register_supplier,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN

UNKNOWN_ID = "00000000-0000-0000-0000-000000000001"


def test_new_account_has_a_zero_balance_and_no_bills(client: TestClient, operator: Headers) -> None:
    supplier_id = register_supplier(client, operator)
    body = {
        "supplier_id": supplier_id,
        "account_number": ACCOUNT_NUMBER,
        "els": "70aa000560",  # typed with Latin letters
        "address": ADDRESS,
    }

    response = client.post("/v1/accounts", json=body, headers=keyed(operator))

    assert response.status_code == 201
    opened = account(client, operator, response.json()["id"])
    assert opened["supplier_id"] == supplier_id
    assert opened["supplier_inn"] == INN
    assert opened["account_number"] == ACCOUNT_NUMBER
    assert opened["els"] == "70АА000560"  # Cyrillic
    assert opened["address"] == ADDRESS
    assert opened["balance"] == {"accrued": 0, "paid": 0, "refunded": 0, "due": 0, "advance": 0}
    assert opened["bills"] == []


def test_account_at_an_unknown_supplier_is_404(client: TestClient, operator: Headers) -> None:
    body = {"supplier_id": UNKNOWN_ID, "account_number": ACCOUNT_NUMBER, "address": ADDRESS}

    response = client.post("/v1/accounts", json=body, headers=keyed(operator))

    problem(response, 404, "unknown_supplier")


def test_opening_the_same_account_number_twice_is_a_conflict(
    client: TestClient, operator: Headers
) -> None:
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    body = {"supplier_id": supplier_id, "account_number": ACCOUNT_NUMBER, "address": "другой"}

    response = client.post("/v1/accounts", json=body, headers=keyed(operator))

    assert problem(response, 409, "account_already_open")["account_id"] == account_id
    assert account(client, operator, account_id)["address"] == ADDRESS


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"account_number": "   "}, 422, "invalid_account_number"),
        ({"account_number": ""}, 422, "validation_error"),
        ({"account_number": "x" * 31}, 422, "validation_error"),
        ({"els": "70АА00056"}, 422, "invalid_identifier"),
        ({"address": ""}, 422, "validation_error"),
    ],
    ids=["blank-number", "empty-number", "long-number", "bad-els", "empty-address"],
)
def test_invalid_account_is_refused(
    client: TestClient, operator: Headers, change: dict[str, str], status: int, code: str
) -> None:
    supplier_id = register_supplier(client, operator)
    body = {"supplier_id": supplier_id, "account_number": "0667000009", "address": ADDRESS}

    response = client.post("/v1/accounts", json={**body, **change}, headers=keyed(operator))

    problem(response, status, code)


# --- bills ---------------------------------------------------------------------------------------
def test_issued_bill_shows_on_the_account_as_due(client: TestClient, operator: Headers) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))

    response = client.post(
        f"/v1/accounts/{account_id}/bills", json=bill_body(), headers=keyed(operator)
    )

    assert response.status_code == 201
    assert response.json()["amount_due"] == BILL_TOTAL
    shown = account(client, operator, account_id)
    assert shown["balance"] == {
        "accrued": BILL_TOTAL,
        "paid": 0,
        "refunded": 0,
        "due": BILL_TOTAL,
        "advance": 0,
    }
    (bill,) = shown["bills"]
    assert bill["id"] == response.json()["id"]
    assert bill["document_id"] == DOCUMENT_ID
    assert bill["period"] == PERIOD
    assert bill["due_date"] == "2026-04-15"
    assert bill["amount_due"] == BILL_TOTAL
    assert bill["paid"] == 0
    assert bill["status"] == "unpaid"


def test_recalculation_line_lowers_the_amount_due(client: TestClient, operator: Headers) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    lines = [{"service": "Отопление", "amount": 500000}, {"service": "Перерасчёт", "amount": -1000}]

    response = client.post(
        f"/v1/accounts/{account_id}/bills",
        json=bill_body(lines=lines, uin="18810177170124069863"),
        headers=keyed(operator),
    )

    assert response.json()["amount_due"] == 499000
    assert account(client, operator, account_id)["balance"]["due"] == 499000


def test_document_id_typed_with_latin_letters_is_stored_in_cyrillic(
    client: TestClient, operator: Headers
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))

    issue_bill(client, operator, account_id, document_id="70aa000560-01-6103")

    assert account(client, operator, account_id)["bills"][0]["document_id"] == DOCUMENT_ID


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lines": [{"service": "Перерасчёт", "amount": -1}]}, "invalid_bill"),
        ({"lines": [{"service": "   ", "amount": 100}]}, "invalid_bill"),
        ({"document_id": "70АА000560-01"}, "invalid_document_id"),
        ({"uin": "18810177170124069864"}, "invalid_uin"),
        ({"period": "2026-13"}, "invalid_identifier"),
        ({"period": "2026-3"}, "validation_error"),
        ({"period": "٢٠٢٦-٠٣"}, "validation_error"),  # Arabic-Indic digits
        ({"uin": "1881017717012406986\u00b2"}, "validation_error"),
        ({"lines": []}, "validation_error"),
        ({"lines": [{"service": "Газ", "amount": 1.5}]}, "validation_error"),
        ({"lines": [{"service": "Газ", "amount": "100"}]}, "validation_error"),
        ({"due_date": "15.04.2026"}, "validation_error"),
        ({"total": 100}, "validation_error"),
    ],
    ids=[
        "negative-total",
        "blank-service",
        "bad-document-id",
        "bad-uin-check-digit",
        "month-13",
        "period-shape",
        "period-non-ascii-digits",
        "uin-non-ascii-digit",
        "no-lines",
        "fractional-kopecks",
        "amount-as-string",
        "date-format",
        "unknown-field",
    ],
)
def test_invalid_bill_is_refused_and_the_account_is_unchanged(
    client: TestClient, operator: Headers, change: dict[str, object], code: str
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    before = account(client, operator, account_id)

    response = client.post(
        f"/v1/accounts/{account_id}/bills", json=bill_body(**change), headers=keyed(operator)
    )

    problem(response, 422, code)
    after = account(client, operator, account_id)
    assert (after["balance"], after["bills"]) == (before["balance"], before["bills"])


def test_bill_for_an_unknown_account_is_404(client: TestClient, operator: Headers) -> None:
    response = client.post(
        f"/v1/accounts/{UNKNOWN_ID}/bills", json=bill_body(), headers=keyed(operator)
    )

    problem(response, 404, "unknown_account")


def test_issuing_the_same_document_id_twice_is_a_conflict(
    client: TestClient, operator: Headers
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    issue_bill(client, operator, account_id)

    response = client.post(
        f"/v1/accounts/{account_id}/bills", json=bill_body(), headers=keyed(operator)
    )

    problem(response, 409, "bill_already_issued")
    assert account(client, operator, account_id)["balance"]["accrued"] == BILL_TOTAL


def test_document_id_with_look_alike_digits_is_not_a_second_bill(
    client: TestClient, operator: Headers
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    issue_bill(client, operator, account_id)

    response = client.post(
        f"/v1/accounts/{account_id}/bills",
        json=bill_body("٧٠АА000560-01-6103"),  # DOCUMENT_ID with Arabic-Indic 7 and 0
        headers=keyed(operator),
    )

    assert response.status_code in (409, 422)


def test_replacement_bill_withdraws_the_old_one(client: TestClient, operator: Headers) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))
    old_id = issue_bill(client, operator, account_id)
    lines = [{"service": "Отопление", "amount": 400000}]

    new_id = issue_bill(
        client,
        operator,
        account_id,
        document_id="70АА000560-01-6104",
        lines=lines,
        replaces=old_id,
    )

    shown = account(client, operator, account_id)
    assert shown["balance"]["due"] == 400000
    bills = {b["id"]: b for b in shown["bills"]}
    assert bills[old_id]["status"] == "withdrawn"
    assert bills[old_id]["replaced_by"] == new_id
    assert bills[new_id]["replaces"] == old_id


def test_replacing_an_unknown_bill_is_404_and_issues_nothing(
    client: TestClient, operator: Headers
) -> None:
    account_id = open_account(client, operator, register_supplier(client, operator))

    response = client.post(
        f"/v1/accounts/{account_id}/bills",
        json=bill_body(replaces=UNKNOWN_ID),
        headers=keyed(operator),
    )

    problem(response, 404, "unknown_bill")
    assert account(client, operator, account_id)["bills"] == []


# --- reading accounts ----------------------------------------------------------------------------
def test_linked_resident_and_auditor_read_the_account(
    client: TestClient, resident: Headers, auditor: Headers, operator: Headers, world: World
) -> None:
    as_operator = account(client, operator, world.account_id)

    for headers in (resident, auditor):
        response = client.get(f"/v1/accounts/{world.account_id}", headers=headers)
        assert response.status_code == 200
        assert response.json() == as_operator


def test_unknown_account_is_404(client: TestClient, operator: Headers) -> None:
    problem(client.get(f"/v1/accounts/{UNKNOWN_ID}", headers=operator), 404, "not_found")
