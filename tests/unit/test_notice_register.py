"""Bank notice registers: CSV in UTF-8, BOM or cp1251, and JSON Lines, read line by line."""

from __future__ import annotations

import csv
import io
from datetime import date

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.notices.file import MAX_LINE_BYTES, fields_of, read_register
from ledger.notices.line import COLUMNS, NoticeLine, RejectedLine, parse_rubles
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES

HEADER = ";".join(COLUMNS)
ORDER_ID = "10445252250000001503202600000001"


def line(**changes: str) -> str:
    values = {
        "order_id": ORDER_ID,
        "order_date": "2026-03-15",
        "amount": "5234,17",
        "payer": "Иванов И. И.",
        "recipient_inn": INN,
        "recipient_kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
        "document_id": DOCUMENT_ID,
        "housing_id": "",
        "els": "",
        "account_number": ACCOUNT_NUMBER,
        "period": "2026-03",
        "purpose": "Оплата ЖКУ за 03.2026",
        "action": "",
    }
    values.update(changes)
    return ";".join(values[name] for name in COLUMNS)


def read(text: str, encoding: str = "utf-8") -> list[NoticeLine | RejectedLine]:
    return list(read_register(io.BytesIO(text.encode(encoding))))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_a_register_in_every_accepted_encoding_reads_the_same(encoding: str) -> None:
    [notice] = read(f"{HEADER}\r\n{line()}\r\n", encoding)
    assert isinstance(notice, NoticeLine)
    assert notice.amount == 523417
    assert notice.order_date == date(2026, 3, 15)
    assert notice.payer == "Иванов И. И."
    assert notice.document_id == DOCUMENT_ID
    assert notice.purpose == "Оплата ЖКУ за 03.2026"


def test_json_lines_with_the_same_field_names_read_the_same() -> None:
    record = dict(zip(COLUMNS, line().split(";"), strict=True))
    [notice] = read(orjson.dumps(record).decode() + "\n")
    assert isinstance(notice, NoticeLine)
    assert (notice.amount, notice.document_id) == (523417, DOCUMENT_ID)


@pytest.mark.parametrize(
    ("text", "kopecks"),
    [("5234,17", 523417), ("5234.17", 523417), ("5 234,17", 523417), ("5234", 523400),
     ("0,5", 50), ("1\u00a0000,00", 100000)],
)  # fmt: skip
def test_amounts_are_rubles_as_banks_write_them(text: str, kopecks: int) -> None:
    assert parse_rubles(text, "amount") == kopecks


@pytest.mark.parametrize("text", ["5234,171", "-5", "0,00", "1e3", "", "5234,17 руб"])
def test_malformed_amounts_are_refused(text: str) -> None:
    with pytest.raises(LedgerError) as caught:
        parse_rubles(text, "amount")
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"order_id": "short"}, "invalid_order_id"),
        ({"order_date": "15/03/2026"}, "invalid_order_date"),
        ({"amount": "abc"}, "invalid_amount"),
        ({"recipient_inn": "7701234561"}, "invalid_inn"),
        ({"settlement_account": "40702810138250123018"}, "invalid_account_key"),
        ({"bik": "04452522A"}, "invalid_bik"),
        ({"document_id": "", "account_number": ""}, "missing_reference"),
        ({"document_id": "", "recipient_inn": ""}, "missing_reference"),
        ({"document_id": "70АА00056-01-6103"}, "invalid_document_id"),
        ({"action": "delete"}, "invalid_action"),
    ],
)
def test_a_bad_line_is_rejected_with_its_reason_and_never_blocks_the_good_ones(
    changes: dict[str, str], code: str
) -> None:
    good_id = ORDER_ID[:-1] + "2"
    results = read(f"{HEADER}\n{line(**changes)}\n{line(order_id=good_id)}\n")
    rejected, accepted = results
    assert isinstance(rejected, RejectedLine)
    assert (rejected.line_no, rejected.code) == (2, code)
    assert isinstance(accepted, NoticeLine)
    assert accepted.order_id == good_id


def test_a_reference_by_els_or_housing_id_alone_is_enough() -> None:
    by_els = line(document_id="", account_number="", els="70AA000560")
    by_housing = line(document_id="", account_number="", housing_id="70АА000560-01")
    first, second = read(f"{HEADER}\n{by_els}\n{by_housing}\n")
    assert isinstance(first, NoticeLine) and first.els == "70АА000560"  # Latin mapped
    assert isinstance(second, NoticeLine) and second.housing_id == "70АА000560-01"


def test_an_annulment_needs_only_the_order_id_and_date() -> None:
    [annul] = read(f"{HEADER}\n{ORDER_ID};2026-03-20;;;;;;;;;;;;;annul\n")
    assert isinstance(annul, NoticeLine)
    assert (annul.action, annul.order_date, annul.amount) == ("annul", date(2026, 3, 20), None)


def test_commission_is_read_apart_from_the_amount() -> None:
    header = HEADER + ";commission"
    [notice] = read(f"{header}\n{line()};35,00\n")
    assert isinstance(notice, NoticeLine)
    assert (notice.amount, notice.commission) == (523417, 3500)


def test_a_header_without_the_required_columns_is_refused_at_once() -> None:
    with pytest.raises(LedgerError) as caught:
        read("foo;bar\n1;2\n")
    assert caught.value.code == "invalid_register_header"


def test_bad_json_and_overlong_and_undecodable_lines_are_rejected_not_fatal() -> None:
    record = orjson.dumps(dict(zip(COLUMNS, line().split(";"), strict=True))).decode()
    results = read(f"{record}\nnot json\n[1, 2]\n")
    assert [type(r).__name__ for r in results] == ["NoticeLine", "RejectedLine", "RejectedLine"]
    raw = (HEADER + "\n").encode() + b"x" * (MAX_LINE_BYTES * 3) + b"\n" + line().encode()
    raw += b"\n" + line(order_id=ORDER_ID[:-1] + "9").encode("utf-8")[:-3] + b"\xff\n"
    results = list(read_register(io.BytesIO(raw)))
    assert [getattr(r, "code", "ok") for r in results] == ["malformed_line", "ok", "malformed_line"]


def test_a_large_register_streams_line_by_line() -> None:
    body = "".join(line(order_id=f"{n:032d}") + "\n" for n in range(20000))
    stream = io.BytesIO(f"{HEADER}\n{body}".encode())
    reader = read_register(stream)
    first = next(reader)
    assert isinstance(first, NoticeLine) and first.order_id == f"{0:032d}"
    assert stream.tell() < len(stream.getvalue())  # not read to the end for the first line
    assert sum(1 for _ in reader) == 19999


def test_an_overlong_or_undecodable_line_says_which_and_keeps_no_raw_bytes() -> None:
    raw = (HEADER + "\n").encode() + b"x" * (MAX_LINE_BYTES * 2) + b"\n"
    raw += line().encode("utf-8")[:-3] + b"\xff\n"
    results = list(read_register(io.BytesIO(raw)))
    assert [(r.code, r.reason, r.raw) for r in results if isinstance(r, RejectedLine)] == [
        ("malformed_line", "too long", ""),
        ("malformed_line", "bad encoding", ""),
    ]


@given(st.text(alphabet=st.sampled_from(list(';"ab \t\r\n\x00,Ж')), min_size=1))
def test_a_line_is_split_into_the_fields_csv_reads(text: str) -> None:
    try:
        expected: list[str] | str = next(csv.reader([text], delimiter=";"))
    except (csv.Error, StopIteration) as error:
        expected = type(error).__name__
    try:
        got: list[str] | str = fields_of(text)
    except (csv.Error, StopIteration) as error:
        got = type(error).__name__
    assert got == expected
