"""A scanned code or a payment body that names two different things to pay.

What the payer reads (the `Purpose` printed under the code) and what the machine pays (`UIN`)
must name one bill; a payment names its payee one way. Where they disagree Kvit refuses with a
problem that names the key, instead of silently paying one of them. A `Purpose` that holds an
ИПД-shaped token it cannot read refuses the code as an invalid QR payload naming `Purpose`, like
every other key, not as a bare `invalid_document_id`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from ledger.errors import InvalidQrPayloadError
from ledger.qr.payload import parse_payload
from tests.api.helpers import (
    PUBLIC_URL,
    World,
    bearer,
    build_app,
    issue_bill,
    keyed,
    make_world,
    problem,
)
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES

OPERATOR = bearer(Role.OPERATOR)
RESIDENT = bearer(Role.RESIDENT, "payer-anna")
OTHER_BILL = "70АА000560-01-6104"  # the same account's next bill, a larger one


@pytest.fixture
def client(tmp_path: Path, memory_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient) -> World:
    made = make_world(client, OPERATOR, RESIDENT)
    issue_bill(
        client,
        OPERATOR,
        made.account_id,
        document_id=OTHER_BILL,
        period="2026-04",
        due_date="2026-05-15",
        lines=[{"service": "Отопление", "amount": 900000}],
    )
    return made


def payload_of(client: TestClient) -> str:
    return client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=text", headers=RESIDENT).text


def resolve(client: TestClient, payload: str) -> httpx.Response:
    return client.post("/v1/qr:resolve", json={"qr_payload": payload}, headers=RESIDENT)


def paid_nothing(client: TestClient) -> bool:
    return client.get("/v1/me/payments", headers=RESIDENT).json()["items"] == []


# --- an unreadable ИПД in Purpose ------------------------------------------------------------
@pytest.mark.parametrize("token", ["70QQ000560-01-6103", "70AA000560-01-61Q3"])
def test_an_unreadable_document_id_in_purpose_refuses_the_payload_naming_purpose(
    token: str,
) -> None:
    """`Q` is no Cyrillic look-alike: the token looks like an ИПД but is not one. Parsing stops
    with the QR payload's own error, naming the key."""
    payload = (
        f"ST00012|Name=ООО УК|PersonalAcc={REQUISITES['settlement_account']}|BankName=Сбер"
        f"|BIC={REQUISITES['bik']}|CorrespAcc=0|PayeeINN={INN}|Purpose=ЖКУ, ИПД {token}"
    )
    try:
        parse_payload(payload)
    except InvalidQrPayloadError as refused:
        assert (refused.data["key"], refused.code) == ("Purpose", "invalid_qr_payload")
        assert "Purpose" in refused.message
    else:  # a token that parses is fine too, but these do not
        pytest.fail(f"{token} was read as an ИПД")


def test_the_api_answers_an_unreadable_purpose_as_an_invalid_qr_payload(
    client: TestClient, world: World
) -> None:
    payload = payload_of(client).replace(DOCUMENT_ID, "70QQ000560-01-6103")
    found = problem(resolve(client, payload), 422, "invalid_qr_payload")
    assert found["key"] == "Purpose"


# --- UIN and Purpose naming different bills --------------------------------------------------
def test_uin_and_purpose_naming_different_bills_is_refused_not_silently_paid(
    client: TestClient, world: World
) -> None:
    """The payer reads bill 6103 under the code; its `UIN` would pay the larger bill 6104."""
    payload = payload_of(client).removesuffix("|TechCode=02") + f"|UIN={OTHER_BILL}|TechCode=02"
    assert f"ИПД {DOCUMENT_ID}" in payload
    found = problem(resolve(client, payload), 422, "invalid_qr_payload")
    assert (found["key"], found["reason"]) == ("Purpose", "ambiguous_document_id")
    body = {"qr_payload": payload, "method": "card"}
    problem(client.post("/v1/payments", json=body, headers=keyed(RESIDENT)), 422,
            "invalid_qr_payload")  # fmt: skip
    assert paid_nothing(client)


def test_two_different_document_ids_in_purpose_are_refused() -> None:
    payload = (
        f"ST00012|Name=ООО УК|PersonalAcc={REQUISITES['settlement_account']}|BankName=Сбер"
        f"|BIC={REQUISITES['bik']}|CorrespAcc=0|PayeeINN={INN}"
        f"|Purpose=ИПД {DOCUMENT_ID}, ИПД {OTHER_BILL}"
    )
    with pytest.raises(InvalidQrPayloadError) as refused:
        parse_payload(payload)
    assert (refused.value.data["key"], refused.value.data["reason"]) == (
        "Purpose",
        "ambiguous_document_id",
    )


def test_the_same_bill_in_uin_and_purpose_still_resolves(client: TestClient, world: World) -> None:
    """Look-alike spelling in one of them (a Latin `AA`) is the same bill, not two."""
    latin = DOCUMENT_ID.replace("АА", "AA")
    payload = payload_of(client).removesuffix("|TechCode=02") + f"|UIN={latin}|TechCode=02"
    response = resolve(client, payload)
    assert response.status_code == 200, response.text
    assert response.json()["document_id"] == DOCUMENT_ID


# --- a payment body naming its payee two ways ------------------------------------------------
RECIPIENT = {
    "inn": INN,
    "kpp": KPP,
    "bik": REQUISITES["bik"],
    "settlement_account": REQUISITES["settlement_account"],
}


@pytest.mark.parametrize(
    "extra",
    [
        {"recipient": RECIPIENT, "account_number": ACCOUNT_NUMBER},
        {"recipient": RECIPIENT},
        {"account_number": "0667000002"},
    ],
    ids=["recipient+account_number", "recipient", "account_number"],
)
def test_a_payment_naming_a_qr_payload_and_another_payee_is_refused(
    client: TestClient, world: World, extra: dict[str, object]
) -> None:
    body = {"qr_payload": payload_of(client), "method": "card", **extra}
    found = problem(
        client.post("/v1/payments", json=body, headers=keyed(RESIDENT)), 422, "ambiguous_payee"
    )
    assert "qr_payload" in found["detail"]
    assert paid_nothing(client)
