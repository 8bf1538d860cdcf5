"""ГОСТ Р 56042 payloads: strict build, lenient parse, refusals that name the key and reason."""

from __future__ import annotations

import io

import pytest
import segno
import zxingcpp
from PIL import Image

from ledger.errors import InvalidQrPayloadError
from ledger.qr.payload import (
    QrPayment,
    build_payload,
    encode_payload,
    parse_payload,
    parse_qr_period,
)
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES

DOMAIN_EXAMPLE = (
    'ST00012|Name=ООО "УК Пример"|PersonalAcc=40702810138250123017|BankName=ПАО СБЕРБАНК|'
    "BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7701234560|KPP=770101001|"
    "Sum=523417|Purpose=Оплата ЖКУ за 03.2026, ИПД 70АА000560-01-6103|PersAcc=0667000001|"
    "PaymPeriod=032026|LastName=Иванов|TechCode=02"
)


def bill_payment(**changes: object) -> QrPayment:
    fields: dict[str, object] = {
        "name": 'ООО "УК Пример"',
        "settlement_account": REQUISITES["settlement_account"],
        "bank_name": REQUISITES["bank_name"],
        "bik": REQUISITES["bik"],
        "correspondent_account": REQUISITES["correspondent_account"],
        "inn": INN,
        "kpp": KPP,
        "amount": 523417,
        "purpose": f"Оплата ЖКУ за 03.2026, ИПД {DOCUMENT_ID}",
        "account_number": ACCOUNT_NUMBER,
        "period": "2026-03",
        "document_id": DOCUMENT_ID,
    }
    fields.update(changes)
    return QrPayment(**fields)  # type: ignore[arg-type]


def decode_image(png: bytes) -> bytes:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return bytes(results[0].bytes)


def render_png(payload: bytes) -> bytes:
    out = io.BytesIO()
    segno.make(payload, mode="byte", error="m").save(out, kind="png", scale=4)
    return out.getvalue()


def test_build_puts_mandatory_keys_first_then_the_zhku_keys_in_order() -> None:
    text = build_payload(bill_payment())
    keys = [pair.split("=", 1)[0] for pair in text.split("|")[1:]]
    assert text.startswith("ST00012|")
    assert keys == [
        "Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc",
        "PayeeINN", "KPP", "Sum", "Purpose", "PersAcc", "PaymPeriod", "TechCode",
    ]  # fmt: skip
    assert "PaymPeriod=032026" in text
    assert text.endswith("TechCode=02")


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "koi8-r"])
def test_build_render_decode_parse_gives_the_same_fields(encoding: str) -> None:
    payment = bill_payment()
    payload = encode_payload(build_payload(payment, encoding=encoding))
    scanned = decode_image(render_png(payload))
    parsed = parse_payload(scanned)
    assert parsed.encoding == encoding
    assert parsed.amount == payment.amount
    assert parsed.document_id == DOCUMENT_ID
    assert parsed.period == "2026-03"
    assert (parsed.inn, parsed.kpp, parsed.bik) == (INN, KPP, REQUISITES["bik"])
    assert parsed.settlement_account == payment.settlement_account
    assert parsed.account_number == ACCOUNT_NUMBER
    assert parsed.name == payment.name


def test_build_picks_another_separator_when_a_value_holds_the_pipe() -> None:
    text = build_payload(bill_payment(name="ООО |УК| Пример"))
    assert text.startswith("ST00012#")
    assert parse_payload(text).name == "ООО |УК| Пример"


def test_build_refuses_a_bank_name_longer_than_the_standard_allows() -> None:
    with pytest.raises(InvalidQrPayloadError) as caught:
        build_payload(bill_payment(bank_name="Б" * 46))
    assert caught.value.data == {"key": "BankName", "reason": "too_long"}


def test_the_domain_example_parses() -> None:
    parsed = parse_payload(DOMAIN_EXAMPLE)
    assert parsed.amount == 523417
    assert parsed.document_id == DOCUMENT_ID
    assert parsed.extra == {"LastName": "Иванов"}


@pytest.mark.parametrize(
    "sloppy",
    [
        DOMAIN_EXAMPLE.replace("PersAcc=", "persAcc=").replace("PaymPeriod", "paymPeriod"),
        DOMAIN_EXAMPLE.replace("|", " | ") + "|",
        DOMAIN_EXAMPLE.replace("|", "#").replace("ST00012#", "ST00012#", 1),
        DOMAIN_EXAMPLE.replace("Sum=523417", "Sum=523417|Amount=5234,17"),
        DOMAIN_EXAMPLE.replace("Sum=523417", "Amount=5234.17"),
        DOMAIN_EXAMPLE.replace(", ИПД 70АА000560-01-6103", "") + "|UIN=70AA000560-01-6103",
        DOMAIN_EXAMPLE.replace("ИПД 70АА000560-01-6103", "ипд 70aa000560-01-6103"),
        "\ufeff" + DOMAIN_EXAMPLE + "\n",
    ],
    ids=[
        "key-case",
        "spaces-trailing",
        "hash-separator",
        "amount-twin",
        "amount-only",
        "ipd-in-uin-latin",
        "ipd-lowercase-latin",
        "bom-newline",
    ],
)
def test_sloppy_real_world_variants_resolve_to_the_same_payment(sloppy: str) -> None:
    parsed = parse_payload(sloppy)
    assert (parsed.amount, parsed.document_id, parsed.account_number, parsed.period) == (
        523417,
        DOCUMENT_ID,
        ACCOUNT_NUMBER,
        "2026-03",
    )


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "utf-8"])
def test_bytes_are_decoded_as_the_header_announces(encoding: str) -> None:
    digit = {"cp1251": "1", "utf-8": "2", "koi8-r": "3"}[encoding]
    raw = DOMAIN_EXAMPLE.replace("ST00012", f"ST0001{digit}").encode(encoding)
    assert parse_payload(raw).name == 'ООО "УК Пример"'


@pytest.mark.parametrize(
    ("value", "period"),
    [
        ("0521", "2021-05"),
        ("052021", "2021-05"),
        ("05.2021", "2021-05"),
        ("2021-05", "2021-05"),
        ("5/2021", "2021-05"),
        (" 032026 ", "2026-03"),
    ],
)
def test_periods_in_every_spelling(value: str, period: str) -> None:
    assert parse_qr_period(value) == period


@pytest.mark.parametrize(
    ("payload", "key", "reason"),
    [
        ("ST0002|Name=x", None, "bad_header"),
        ("ST00019|Name=x", None, "unknown_encoding"),
        ("ST00012", None, "bad_header"),
        (DOMAIN_EXAMPLE.replace("|BankName=ПАО СБЕРБАНК", ""), "BankName", "missing_key"),
        (DOMAIN_EXAMPLE.replace("7701234560", "7701234561"), "PayeeINN", "invalid_inn"),
        (
            DOMAIN_EXAMPLE.replace("40702810138250123017", "40702810138250123018"),
            "PersonalAcc",
            "invalid_account_key",
        ),
        (DOMAIN_EXAMPLE.replace("BIC=044525225", "BIC=04452522A"), "BIC", "invalid_bik"),
        (DOMAIN_EXAMPLE.replace("Sum=523417", "Sum=5234.17"), "Sum", "invalid_sum"),
        (
            DOMAIN_EXAMPLE.replace("Sum=523417", "Sum=523417|Amount=5234,18"),
            "Amount",
            "sum_mismatch",
        ),
        (
            DOMAIN_EXAMPLE.replace("PaymPeriod=032026", "PaymPeriod=132026"),
            "PaymPeriod",
            "invalid_period",
        ),
        (DOMAIN_EXAMPLE + "|Sum=100", "Sum", "duplicate_key"),
        (DOMAIN_EXAMPLE + "|garbage", "garbage", "malformed_pair"),
        (DOMAIN_EXAMPLE + "|UIN=18810177170124069864", "UIN", "invalid_uin"),
    ],
)
def test_a_broken_payload_is_refused_naming_the_key_and_the_reason(
    payload: str, key: str | None, reason: str
) -> None:
    with pytest.raises(InvalidQrPayloadError) as caught:
        parse_payload(payload)
    assert caught.value.code == "invalid_qr_payload"
    assert caught.value.data == {"key": key, "reason": reason}


def test_invalid_utf8_bytes_are_a_clear_refusal() -> None:
    with pytest.raises(InvalidQrPayloadError) as caught:
        parse_payload(b"ST00012|Name=\xff\xfe")
    assert caught.value.data["reason"] == "bad_encoding"


def test_a_real_uin_is_kept_apart_from_the_document_id() -> None:
    parsed = parse_payload(DOMAIN_EXAMPLE + "|UIN=18810177240000000034")
    assert parsed.uin == "18810177240000000034"
    assert parsed.document_id == DOCUMENT_ID
