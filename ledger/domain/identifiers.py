"""Parsing and checking of the ЖКУ identifiers (see shared/docs/domain.md).

Each `parse_*` function normalises its input once and returns the canonical string, or raises
a named error. The rest of the ledger only ever sees canonical values.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.ru import inn as stdnum_inn

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

# Latin letters that residents type instead of the Cyrillic look-alikes in ЕЛС/ИЖКУ/ИПД.
_LATIN_TO_CYRILLIC = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")

# [0-9], never \d: \d also matches other scripts' digits, which would let "٧٠АА…" pass for a
# different ИПД than "70АА…".
_ELS = re.compile(r"[0-9]{2}[А-ЯЁ]{2}[0-9]{6}")
_SERVICE_ID = re.compile(r"[0-9]{2}[А-ЯЁ]{2}[0-9]{6}-[0-9]{2}")
_DOCUMENT_ID = re.compile(r"[0-9]{2}[А-ЯЁ]{2}[0-9]{6}-[0-9]{2}-[0-9А-ЯЁ]{4}")
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")

_ACCOUNT_KEY_WEIGHTS = (7, 1, 3)


def digits(value: str, length: int | tuple[int, ...]) -> bool:
    """ASCII digits only (str.isdigit() also accepts "²" and other scripts' digits)."""
    lengths = (length,) if isinstance(length, int) else length
    return len(value) in lengths and value.isascii() and value.isdigit()


def to_cyrillic(value: str) -> str:
    """Upper-case and map Latin look-alikes to Cyrillic (a classic cause of unmatched payments)."""
    return value.strip().upper().translate(_LATIN_TO_CYRILLIC)


def parse_inn(value: str) -> str:
    """ИНН: 10 digits (legal entity) or 12 (person), check digits verified by python-stdnum."""
    cleaned = value.strip()
    if not digits(cleaned, (10, 12)):
        raise InvalidInnError(f"ИНН must be 10 or 12 digits, got {cleaned!r}", inn=cleaned)
    try:
        return str(stdnum_inn.validate(cleaned))
    except StdnumValidationError as error:
        raise InvalidInnError(f"invalid ИНН {cleaned!r}: {error}", inn=cleaned) from None


def parse_kpp(value: str) -> str:
    cleaned = value.strip()
    if not digits(cleaned, 9):
        raise InvalidKppError(f"КПП must be 9 digits, got {cleaned!r}", kpp=cleaned)
    return cleaned


def parse_bik(value: str) -> str:
    cleaned = value.strip()
    if not digits(cleaned, 9):
        raise InvalidBikError(f"БИК must be 9 digits, got {cleaned!r}", bik=cleaned)
    return cleaned


def parse_bank_bik(value: str) -> str:
    """The БИК of a credit institution, the only kind that accepts a resident's payment and
    posts notices: `04` (Russia), the region and the Bank of Russia division, then the
    institution's number, 050–999. Numbers 000–049 are the Bank of Russia's own divisions,
    and treasury БИКs (00…, 01…, 02…) name no bank; a supplier's requisites may still carry one
    (`parse_bik`)."""
    cleaned = parse_bik(value)
    if not cleaned.startswith("04") or int(cleaned[6:]) < 50:
        raise InvalidBikError(f"{cleaned} is not the БИК of a credit institution", bik=cleaned)
    return cleaned


def _account_key_ok(prefix: str, account: str) -> bool:
    digits = prefix + account
    total = sum((int(d) * _ACCOUNT_KEY_WEIGHTS[i % 3]) % 10 for i, d in enumerate(digits))
    return total % 10 == 0


def _parse_20_digits(value: str, field: str) -> str:
    cleaned = value.strip()
    if not digits(cleaned, 20):
        raise InvalidAccountKeyError(
            f"{field} must be 20 digits, got {cleaned!r}", field=field, account=cleaned
        )
    return cleaned


def parse_settlement_account(value: str, *, bik: str) -> str:
    """Расчётный счёт, keyed with the last 3 digits of the БИК; treasury 03… has no key."""
    account = _parse_20_digits(value, "settlement_account")
    if account.startswith("03"):
        return account
    if not _account_key_ok(bik[-3:], account):
        raise InvalidAccountKeyError(
            f"settlement account {account} fails its control key for БИК {bik}",
            field="settlement_account",
            account=account,
            bik=bik,
        )
    return account


def parse_correspondent_account(value: str, *, bik: str) -> str:
    """Корр. счёт (30101…) and treasury ЕКС (40102…), keyed with '0' + БИК digits 5–6."""
    account = _parse_20_digits(value, "correspondent_account")
    if not _account_key_ok("0" + bik[4:6], account):
        raise InvalidAccountKeyError(
            f"correspondent account {account} fails its control key for БИК {bik}",
            field="correspondent_account",
            account=account,
            bik=bik,
        )
    return account


def _uin_check_digit(body: str, first_weight: int) -> int:
    weights = [(first_weight - 1 + i) % 10 + 1 for i in range(len(body))]
    return sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11


def parse_uin(value: str) -> str:
    """УИН: 20 or 25 digits; check digit with weights 1..10, then 3..12 (mod 10) if 10, else 0."""
    cleaned = value.strip()
    if not digits(cleaned, (20, 25)):
        raise InvalidUinError(f"УИН must be 20 or 25 digits, got {cleaned!r}", uin=cleaned)
    body, check = cleaned[:-1], int(cleaned[-1])
    expected = _uin_check_digit(body, 1)
    if expected == 10:
        expected = _uin_check_digit(body, 3)
        if expected == 10:
            expected = 0
    if expected != check:
        raise InvalidUinError(f"УИН {cleaned} fails its check digit", uin=cleaned)
    return cleaned


def parse_els(value: str) -> str:
    """ЕЛС: 2 digits, 2 Cyrillic capitals, 6 digits (shape only; there is no check digit)."""
    normalised = to_cyrillic(value)
    if not _ELS.fullmatch(normalised):
        raise InvalidIdentifierError(f"ЕЛС must look like 70АА000560, got {value!r}", els=value)
    return normalised


def parse_service_id(value: str) -> str:
    normalised = to_cyrillic(value)
    if not _SERVICE_ID.fullmatch(normalised):
        raise InvalidIdentifierError(
            f"ИЖКУ must look like 70АА000560-01, got {value!r}", service_id=value
        )
    return normalised


def parse_document_id(value: str) -> str:
    """ИПД: ИЖКУ + '-' + 4 characters. Never derive the period from it."""
    normalised = to_cyrillic(value)
    if not _DOCUMENT_ID.fullmatch(normalised):
        raise InvalidDocumentIdError(
            f"ИПД must look like 70АА000560-01-6103, got {value!r}", document_id=value
        )
    return normalised


def parse_account_number(value: str) -> str:
    """A supplier's own personal-account number: 1–30 characters, unique within the supplier."""
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= 30 or not cleaned.isprintable():
        raise InvalidAccountNumberError(
            f"account number must be 1–30 printable characters, got {value!r}",
            account_number=value,
        )
    return cleaned


def parse_period(value: str) -> str:
    match = _PERIOD.fullmatch(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidIdentifierError(f"period must be YYYY-MM, got {value!r}", period=value)
    return match.group(0)


def parse_date(value: str, field: str = "date") -> str:
    """A calendar date as `YYYY-MM-DD` (a bill's due date)."""
    cleaned = value.strip()
    try:
        if len(cleaned) == 10:
            return date.fromisoformat(cleaned).isoformat()
    except ValueError:
        pass
    raise InvalidIdentifierError(f"{field} must be a date YYYY-MM-DD, got {value!r}", field=field)
