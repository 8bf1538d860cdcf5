"""GET /v1/bills/{document_id}/qr: the bill's ГОСТ QR code, decoded by a real QR reader."""

from __future__ import annotations

import io

import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from ledger.qr.payload import parse_payload
from tests.api.helpers import Headers, World, fund, pay, problem
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES


def scan(png: bytes) -> bytes:
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return bytes(result.bytes)


def test_the_png_code_decodes_to_the_bills_requisites_and_due(
    client: TestClient, world: World, resident: Headers
) -> None:
    response = client.get(f"/v1/bills/{DOCUMENT_ID}/qr", params={"format": "png"}, headers=resident)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    payment = parse_payload(scan(response.content))
    assert (payment.inn, payment.kpp, payment.bik) == (INN, KPP, REQUISITES["bik"])
    assert payment.settlement_account == REQUISITES["settlement_account"]
    assert (payment.amount, payment.account_number) == (BILL_TOTAL, ACCOUNT_NUMBER)
    assert (payment.document_id, payment.period) == (DOCUMENT_ID, "2026-03")


def test_the_text_payload_follows_the_standard_and_cp1251_on_request(
    client: TestClient, world: World, resident: Headers
) -> None:
    url = f"/v1/bills/{DOCUMENT_ID}/qr"
    text = client.get(url, params={"format": "text"}, headers=resident).text
    assert text.startswith('ST00012|Name=ООО "УК Пример"|PersonalAcc=')
    assert text.endswith("|PersAcc=0667000001|PaymPeriod=032026|TechCode=02")
    legacy = client.get(url, params={"format": "text", "encoding": "cp1251"}, headers=resident)
    assert legacy.text.startswith("ST00011|")
    svg = client.get(url, headers=resident)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg")


def test_the_sum_is_what_is_due_now_after_a_partial_payment(
    client: TestClient, world: World, resident: Headers
) -> None:
    fund(client, resident, world.wallet_id, 100000)
    pay(client, resident, world, document_id=DOCUMENT_ID, amount=100000, confirm=True)
    text = client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=text", headers=resident).text
    assert parse_payload(text).amount == BILL_TOTAL - 100000


def test_an_unknown_or_malformed_document_id_is_a_problem(
    client: TestClient, world: World, resident: Headers
) -> None:
    problem(client.get("/v1/bills/70АА000560-01-9999/qr", headers=resident), 404, "unknown_bill")
    problem(client.get("/v1/bills/nonsense/qr", headers=resident), 422, "invalid_document_id")
    problem(client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=gif", headers=resident), 422,
            "validation_error")  # fmt: skip
    assert client.get(f"/v1/bills/{DOCUMENT_ID}/qr").status_code == 401


def test_the_bill_document_carries_the_same_payload(
    client: TestClient, world: World, resident: Headers
) -> None:
    document = client.get(
        f"/v1/accounts/{world.account_id}/bills/{world.bill_id}", headers=resident
    )
    assert document.status_code == 200, document.text
    text = client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=text", headers=resident).text
    assert document.json()["qr_payload"] == text
