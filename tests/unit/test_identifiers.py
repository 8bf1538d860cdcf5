"""Identifier checks, with the valid and invalid examples from shared/docs/domain.md."""

from __future__ import annotations

import pytest

from ledger.domain.identifiers import (
    parse_account_number,
    parse_bank_bik,
    parse_bik,
    parse_correspondent_account,
    parse_document_id,
    parse_els,
    parse_inn,
    parse_kpp,
    parse_period,
    parse_service_id,
    parse_settlement_account,
    parse_uin,
)
from ledger.errors import (
    InvalidAccountKeyError,
    InvalidAccountNumberError,
    InvalidBikError,
    InvalidDocumentIdError,
    InvalidIdentifierError,
    InvalidInnError,
    InvalidKppError,
    InvalidUinError,
)

BIK = "044525225"


@pytest.mark.parametrize("inn", ["7707083893", "7701234560", "500100732259", " 7707083893 "])
def test_valid_inn_is_accepted_and_trimmed(inn: str) -> None:
    assert parse_inn(inn) == inn.strip()


@pytest.mark.parametrize("inn", ["6200098765", "500100732258", "770708389", "77070838931", "abc"])
def test_invalid_inn_is_rejected_with_the_inn(inn: str) -> None:
    with pytest.raises(InvalidInnError) as caught:
        parse_inn(inn)
    assert caught.value.data["inn"] == inn
    assert caught.value.code == "invalid_inn"


def test_kpp_and_bik_need_nine_digits() -> None:
    assert parse_kpp("770101001") == "770101001"
    assert parse_bik(BIK) == BIK
    with pytest.raises(InvalidKppError):
        parse_kpp("77010100")
    with pytest.raises(InvalidBikError):
        parse_bik("04452522A")


@pytest.mark.parametrize("bik", [BIK, "044525593", "043469743", " 046577795 ", "044525050"])
def test_a_credit_institutions_bik_may_post_notices(bik: str) -> None:
    assert parse_bank_bik(bik) == bik.strip()


@pytest.mark.parametrize(
    "bik",
    ["000000000", "123456789", "004525988", "044525000", "044525049", "04452522A", "04452522"],
    ids=["zeros", "not-russia", "treasury", "bank-of-russia", "reserved", "letter", "short"],
)
def test_no_other_bik_may_post_notices(bik: str) -> None:
    with pytest.raises(InvalidBikError) as caught:
        parse_bank_bik(bik)
    assert caught.value.code == "invalid_bik"
    assert parse_bik("004525988") == "004525988"  # a supplier's treasury requisites still may


def test_settlement_account_key_is_checked_against_the_bik() -> None:
    assert parse_settlement_account("40702810138250123017", bik=BIK) == "40702810138250123017"
    with pytest.raises(InvalidAccountKeyError) as caught:
        parse_settlement_account("40702810138250123018", bik=BIK)
    assert caught.value.data == {
        "field": "settlement_account",
        "account": "40702810138250123018",
        "bik": BIK,
    }


def test_treasury_03_account_has_no_key() -> None:
    assert parse_settlement_account("03100643000000013400", bik=BIK) == "03100643000000013400"


def test_correspondent_account_key_uses_bik_digits_five_and_six() -> None:
    assert parse_correspondent_account("30101810400000000225", bik=BIK) == "30101810400000000225"
    with pytest.raises(InvalidAccountKeyError):
        parse_correspondent_account("30101810400000000226", bik=BIK)


def test_account_must_be_twenty_digits() -> None:
    with pytest.raises(InvalidAccountKeyError):
        parse_settlement_account("4070281013825012301", bik=BIK)


@pytest.mark.parametrize("uin", ["18810177170124069863", "18810177240000000034"])
def test_valid_uin_including_second_pass(uin: str) -> None:
    assert parse_uin(uin) == uin


@pytest.mark.parametrize("uin", ["18810177170124069864", "1881017717012406986", "abc"])
def test_invalid_uin_is_rejected(uin: str) -> None:
    with pytest.raises(InvalidUinError):
        parse_uin(uin)


def test_latin_look_alikes_become_cyrillic_in_els_service_id_and_document_id() -> None:
    assert parse_els("70aa000560") == "70АА000560"
    assert parse_service_id("70AA000560-01") == "70АА000560-01"
    assert parse_document_id("70AA000560-01-6103") == "70АА000560-01-6103"
    assert parse_document_id("70AA000560-01-6103") == parse_document_id("70АА000560-01-6103")


def test_malformed_els_and_document_id_are_rejected() -> None:
    with pytest.raises(InvalidIdentifierError):
        parse_els("70АА00056")
    with pytest.raises(InvalidDocumentIdError):
        parse_document_id("70АА000560-01-610")


def test_account_number_is_one_to_thirty_characters() -> None:
    assert parse_account_number(" 0667000001 ") == "0667000001"
    with pytest.raises(InvalidAccountNumberError):
        parse_account_number("")
    with pytest.raises(InvalidAccountNumberError):
        parse_account_number("1" * 31)


def test_period_is_year_and_month() -> None:
    assert parse_period("2026-03") == "2026-03"
    for bad in ("2026-13", "03.2026", "2026-3"):
        with pytest.raises(InvalidIdentifierError):
            parse_period(bad)


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_document_id, "٧٠АА000560-01-6103"),
        (parse_els, "٧٠АА000560"),
        (parse_kpp, "７70101001"),
        (parse_bik, "04452522²"),
        (parse_inn, "٧707083893"),
        (parse_uin, "1881017717012406986³"),
    ],
)
def test_only_ascii_digits_count_as_digits(parse: object, value: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        parse(value)  # type: ignore[operator]
