"""Issue 16, items 12 and 13: what a bill's ГОСТ Р 56042 QR code can carry.

- A bank name longer than the standard's `BankName` (45 characters; a treasury's is about 50)
  was accepted at registration, and then every bill view and QR code of the supplier answered
  422 `too_long`. The standard has no rule for shortening a name, so the registry refuses it
  when it is given, where an operator can enter the bank's short name, never later.
- `?encoding=cp1251` for a supplier whose name holds a character cp1251 lacks (★) was a 500;
  it is a 422 that names the key, and the UTF-8 code still works.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from ledger.domain.text import BANK_NAME
from ledger.qr.payload import parse_payload
from tests.api import conftest as api_fixtures
from tests.api.helpers import (
    SUPPLIER,
    Headers,
    bearer,
    issue_bill,
    keyed,
    open_account,
    problem,
    register_supplier,
)
from tests.fixtures import DOCUMENT_ID, REQUISITES

# The API tier's fixtures: an app on an in-memory ledger, its clients, an operator, a resident.
app, client, fragile_client, operator = (
    api_fixtures.app,
    api_fixtures.client,
    api_fixtures.fragile_client,
    api_fixtures.operator,
)
resident = api_fixtures.resident

# A treasury account's bank, as the Treasury writes it: 57 characters.
TREASURY_BANK = "ОТДЕЛЕНИЕ ТУЛА БАНКА РОССИИ//УФК по Тульской области г. Тула"
SHORT_TREASURY_BANK = "ОТДЕЛЕНИЕ ТУЛА//УФК по Тульской области"


def supplier_with(client: TestClient, operator: Headers, **overrides: Any) -> str:
    supplier_id = register_supplier(client, operator, **overrides)
    account_id = open_account(client, operator, supplier_id)
    issue_bill(client, operator, account_id)
    return account_id


def test_a_bank_name_longer_than_the_qr_standard_holds_is_refused_at_registration(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    assert len(TREASURY_BANK) > BANK_NAME.max_length == 45
    body = {**SUPPLIER, "requisites": {**REQUISITES, "bank_name": TREASURY_BANK}}
    refused = problem(
        client.post("/v1/suppliers", json=body, headers=keyed(operator)), 422, "invalid_text"
    )
    assert (refused["field"], refused["reason"], refused["max_length"]) == (
        "bank_name",
        "too_long",
        45,
    )

    # The bank's short name is accepted, and every bill of the supplier then has its code.
    short = {**REQUISITES, "bank_name": SHORT_TREASURY_BANK}
    account_id = supplier_with(client, operator, requisites=short)
    code = client.get(f"/v1/bills/{DOCUMENT_ID}/qr", params={"format": "text"}, headers=resident)
    assert code.status_code == 200, code.text
    assert parse_payload(code.text).bank_name == SHORT_TREASURY_BANK
    bills = client.get(f"/v1/accounts/{account_id}", headers=operator).json()["bills"]
    document = client.get(f"/v1/accounts/{account_id}/bills/{bills[0]['id']}", headers=operator)
    assert document.status_code == 200, document.text


def test_cp1251_for_a_name_cp1251_cannot_hold_is_a_problem_not_a_500(
    fragile_client: TestClient, operator: Headers
) -> None:
    supplier_with(fragile_client, operator, name='ООО "Звезда ★"')
    reader = bearer(Role.RESIDENT, "payer-anna")  # any signed-in caller may ask for a code
    url = f"/v1/bills/{DOCUMENT_ID}/qr"
    for kind in ("text", "png", "svg"):
        response = fragile_client.get(
            url, params={"format": kind, "encoding": "cp1251"}, headers=reader
        )
        refused = problem(response, 422, "invalid_qr_payload")
        assert (refused["key"], refused["reason"]) == ("Name", "not_encodable"), refused
        assert "U+2605" in refused["detail"]
    utf8 = fragile_client.get(url, params={"format": "text"}, headers=reader)
    assert utf8.status_code == 200 and parse_payload(utf8.text).name == 'ООО "Звезда ★"'
