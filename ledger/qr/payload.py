"""ГОСТ Р 56042-2014 payment QR payloads: built strictly, parsed leniently.

A payload is the header `ST0001` + an encoding digit (1 cp1251, 2 UTF-8, 3 KOI8-R) + a separator
character, then `Key=Value` pairs joined by that separator. The five mandatory keys come first,
in order. Real bills are sloppy (key case, period spellings, the ИПД in `UIN` or `Purpose`, stray
spaces, a trailing separator), so `parse_payload` accepts what a bank app would, and refuses only
what would send money to the wrong place: a bad header, a missing mandatory key, an ИНН, БИК or
account key that fails its check. Every refusal names the key and a stable reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.domain.amounts import kopecks_of_rubles
from ledger.domain.identifiers import (
    parse_account_number,
    parse_bik,
    parse_correspondent_account,
    parse_document_id,
    parse_inn,
    parse_kpp,
    parse_settlement_account,
    parse_uin,
    to_cyrillic,
)
from ledger.domain.text import BANK_NAME, PURPOSE, SUPPLIER_NAME
from ledger.errors import InvalidQrPayloadError, LedgerError

HEADER = "ST0001"
ENCODINGS = {"1": "cp1251", "2": "utf-8", "3": "koi8-r"}
ENCODING_DIGITS = {name: digit for digit, name in ENCODINGS.items()}
MANDATORY = ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc")
TECH_CODE_ZHKU = "02"

# Maximum value lengths from the standard's table of keys (characters). The registry holds a
# supplier's text to the same limits when it is registered (ledger/domain/text.py).
_MAX_LENGTH = {"Name": SUPPLIER_NAME.max_length, "PersonalAcc": 20, "BIC": 9, "CorrespAcc": 20}
_MAX_LENGTH |= {"BankName": BANK_NAME.max_length, "Purpose": PURPOSE.max_length}
_MAX_LENGTH |= {"PayeeINN": 12, "KPP": 9, "Sum": 18, "PersAcc": 30}
# Separators tried in order when building: `|` unless a value contains it.
_SEPARATORS = "|#;~^"
# Every key of the standard, so any spelling (`persAcc`, `PAYMPERIOD`) maps to one name.
_KNOWN_KEYS = (
    *MANDATORY,
    "PayeeINN", "KPP", "Sum", "Amount", "Purpose", "PersAcc", "PaymPeriod", "LastName",
    "FirstName", "MiddleName", "PayerAddress", "PayerINN", "UIN", "TechCode", "Category",
    "DocNo", "DocDate", "CBC", "OKTMO", "Flat", "Phone", "PayerIdType", "PayerIdNum",
    "ChildFio", "BirthDate", "PaymTerm", "ServiceName", "CounterId", "CounterVal", "QuittId",
    "QuittDate", "InstNum", "ClassNum", "SpecFio", "AddAmount", "RuleId", "ExecId", "RegType",
    "DrawerStatus", "TaxPeriod", "TaxPaytKind", "PaytReason",
)  # fmt: skip
_CANONICAL_KEY = {key.lower(): key for key in _KNOWN_KEYS}
# An ИПД anywhere in free text, Latin look-alikes allowed (they are mapped before parsing).
_DOCUMENT_ID_IN_TEXT = re.compile(
    r"[0-9]{2}[А-ЯЁA-Z]{2}[0-9]{6}-[0-9]{2}-[0-9А-ЯЁA-Z]{4}", re.IGNORECASE
)
_PERIOD_FORMS = (
    re.compile(r"(?P<month>[0-9]{2})(?P<year>[0-9]{2})"),  # 0521
    re.compile(r"(?P<month>[0-9]{2})(?P<year>[0-9]{4})"),  # 052021
    re.compile(r"(?P<month>[0-9]{1,2})[./](?P<year>[0-9]{4})"),  # 05.2021, 5/2021
    re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})"),  # 2021-05
)


@dataclass(frozen=True)
class QrPayment:
    """What a payload asks to pay. Identifiers are canonical; `amount` is kopecks or None."""

    name: str
    settlement_account: str
    bank_name: str
    bik: str
    correspondent_account: str | None
    inn: str | None = None
    kpp: str | None = None
    amount: int | None = None
    purpose: str | None = None
    account_number: str | None = None
    period: str | None = None
    document_id: str | None = None
    uin: str | None = None
    tech_code: str | None = None
    encoding: str = "utf-8"
    extra: dict[str, str] = field(default_factory=dict)


def build_payload(payment: QrPayment, *, encoding: str = "utf-8") -> str:
    """The strict payload text: mandatory keys in order, then the ЖКУ keys, `TechCode=02`."""
    if encoding not in ENCODING_DIGITS:
        raise ValueError(f"encoding must be one of {sorted(ENCODING_DIGITS)}, got {encoding!r}")
    period = payment.period and f"{payment.period[5:7]}{payment.period[:4]}"
    pairs = [
        ("Name", payment.name),
        ("PersonalAcc", payment.settlement_account),
        ("BankName", payment.bank_name),
        ("BIC", payment.bik),
        ("CorrespAcc", payment.correspondent_account or "0"),
        ("PayeeINN", payment.inn),
        ("KPP", payment.kpp),
        ("Sum", None if payment.amount is None else str(payment.amount)),
        ("Purpose", payment.purpose),
        ("PersAcc", payment.account_number),
        ("PaymPeriod", period),
        ("UIN", payment.uin),
        ("TechCode", payment.tech_code or TECH_CODE_ZHKU),
    ]
    present = [(key, _clean_value(key, value)) for key, value in pairs if value]
    separator = next((s for s in _SEPARATORS if all(s not in value for _, value in present)), None)
    if separator is None:
        raise InvalidQrPayloadError(
            "every separator the standard allows occurs in the values", key=None, reason="values"
        )
    for key, value in present:
        _encodable(key, value, encoding)
    body = separator.join(f"{key}={value}" for key, value in present)
    return f"{HEADER}{ENCODING_DIGITS[encoding]}{separator}{body}"


def encode_payload(text: str) -> bytes:
    """The bytes to put in the QR code, in the encoding the header announces."""
    return text.encode(ENCODINGS[text[len(HEADER)]])


def parse_payload(data: str | bytes) -> QrPayment:
    """Parse a scanned payload leniently; refuse only what would pay the wrong recipient."""
    text, encoding = _decode(data)
    rest = text[len(HEADER) + 1 :].lstrip()  # some generators put a space before the separator
    if not rest or rest[0].isalnum() or rest[0] == "=":
        raise _refuse(None, "bad_header", "the header has no separator after the encoding digit")
    fields = _split_pairs(rest[1:], rest[0])
    for key in MANDATORY:
        if not fields.get(key):
            raise _refuse(key, "missing_key", f"the mandatory key {key} is missing")
    bik = _checked(fields, "BIC", parse_bik)
    corresp = fields["CorrespAcc"]
    uin, document_id = _uin_and_document_id(fields)
    extra_keys = set(fields) - {*MANDATORY, "PayeeINN", "KPP", "Sum", "Amount", "Purpose"}
    extra_keys -= {"PersAcc", "PaymPeriod", "UIN", "TechCode"}
    return QrPayment(
        name=fields["Name"],
        settlement_account=_checked(
            fields, "PersonalAcc", lambda v: parse_settlement_account(v, bik=bik)
        ),
        bank_name=fields["BankName"],
        bik=bik,
        correspondent_account=None
        if corresp == "0"
        else _checked(fields, "CorrespAcc", lambda v: parse_correspondent_account(v, bik=bik)),
        inn=_optional(fields, "PayeeINN", parse_inn),
        kpp=_optional(fields, "KPP", parse_kpp),
        amount=_amount(fields),
        purpose=fields.get("Purpose") or None,
        account_number=_optional(fields, "PersAcc", parse_account_number),
        period=_optional(fields, "PaymPeriod", parse_qr_period),
        document_id=document_id,
        uin=uin,
        tech_code=fields.get("TechCode") or None,
        encoding=encoding,
        extra={key: fields[key] for key in sorted(extra_keys)},
    )


def parse_qr_period(value: str) -> str:
    """`0521`, `052021`, `05.2021`, `5/2021`, `2021-05` → `2021-05`."""
    cleaned = value.strip()
    for form in _PERIOD_FORMS:
        match = form.fullmatch(cleaned)
        if match:
            year = match.group("year")
            year = f"20{year}" if len(year) == 2 else year
            month = int(match.group("month"))
            if 1 <= month <= 12:
                return f"{year}-{month:02d}"
    raise _refuse("PaymPeriod", "invalid_period", f"unreadable billing period {value!r}")


def _decode(data: str | bytes) -> tuple[str, str]:
    """The payload as text (BOM and outer whitespace dropped) and the encoding it announced."""
    if isinstance(data, bytes):
        data = data.removeprefix(b"\xef\xbb\xbf").strip()
        header = data[: len(HEADER) + 1].decode("ascii", "replace")
    else:
        data = data.lstrip("\ufeff").strip()
        header = data[: len(HEADER) + 1]
    if len(header) < len(HEADER) + 1 or header[: len(HEADER)].upper() != HEADER:
        raise _refuse(None, "bad_header", "a payload starts with ST0001 and an encoding digit")
    encoding = ENCODINGS.get(header[len(HEADER)])
    if encoding is None:
        raise _refuse(None, "unknown_encoding", f"encoding digit {header[len(HEADER)]!r}")
    if isinstance(data, str):
        return data, encoding
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        raise _refuse(None, "bad_encoding", f"the payload is not valid {encoding}") from None


def _split_pairs(body: str, separator: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in body.split(separator):
        if not part.strip():
            continue  # a trailing or doubled separator
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or not key:
            raise _refuse(key or None, "malformed_pair", f"{part.strip()!r} is not Key=Value")
        canonical = _CANONICAL_KEY.get(key.lower(), key)
        value = value.strip()
        if canonical in fields and fields[canonical] != value:
            raise _refuse(canonical, "duplicate_key", f"{canonical} is given twice, differently")
        fields[canonical] = value
    return fields


def _checked(fields: dict[str, str], key: str, parse: Callable[[str], str]) -> str:
    return _parsed(key, fields[key], parse)


def _parsed(key: str, value: str, parse: Callable[[str], str]) -> str:
    """`parse(value)`, its refusal turned into the payload's own, naming `key`."""
    try:
        return parse(value)
    except InvalidQrPayloadError:
        raise
    except LedgerError as error:
        raise _refuse(key, error.code, error.message) from None


def _optional(fields: dict[str, str], key: str, parse: Callable[[str], str]) -> str | None:
    return _checked(fields, key, parse) if fields.get(key) else None


def _amount(fields: dict[str, str]) -> int | None:
    """`Sum` is kopecks; an `Amount` twin (rubles, `5234.17` or `5234,17`) must agree with it."""
    total = None
    if fields.get("Sum"):
        if not (fields["Sum"].isascii() and fields["Sum"].isdigit()) or len(fields["Sum"]) > 18:
            raise _refuse("Sum", "invalid_sum", f"Sum is kopecks as digits, got {fields['Sum']!r}")
        total = int(fields["Sum"])
    if fields.get("Amount"):
        kopecks = kopecks_of_rubles(fields["Amount"])
        if kopecks is None:
            raise _refuse("Amount", "invalid_sum", f"unreadable Amount {fields['Amount']!r}")
        if total is not None and total != kopecks:
            raise _refuse("Amount", "sum_mismatch", f"Amount {kopecks} ≠ Sum {total} kopecks")
        total = kopecks
    if total == 0:
        return None  # "0" is how bills say "the payer enters the amount"
    return total


def _uin_and_document_id(fields: dict[str, str]) -> tuple[str | None, str | None]:
    """A real УИН stays a УИН; an ИПД may be given in `UIN` and inside `Purpose`. All the ИПД a
    code names must be one bill: what the payer reads under the code is what it pays."""
    raw_uin = fields.get("UIN", "")
    uin = None
    named = set()
    if raw_uin and raw_uin != "0":
        if raw_uin.isascii() and raw_uin.isdigit():
            uin = _checked(fields, "UIN", parse_uin)
        else:
            named.add(_checked(fields, "UIN", parse_document_id))
    for found in _DOCUMENT_ID_IN_TEXT.finditer(fields.get("Purpose", "")):
        named.add(_parsed("Purpose", to_cyrillic(found.group(0)), parse_document_id))
    if len(named) > 1:
        raise _refuse(
            "Purpose",
            "ambiguous_document_id",
            f"the code names more than one bill ({', '.join(sorted(named))}) in UIN and"
            " Purpose; it pays one",
        )
    return uin, next(iter(named), None)


def _clean_value(key: str, value: str) -> str:
    cleaned = " ".join(value.split())  # no newlines or tabs inside a payload
    limit = _MAX_LENGTH.get(key)
    if limit is not None and len(cleaned) > limit:
        raise _refuse(key, "too_long", f"{key} holds at most {limit} characters")
    return cleaned


def _encodable(key: str, value: str, encoding: str) -> None:
    """cp1251 and KOI8-R hold Cyrillic but not every character a name may hold (★, emoji):
    refuse the payload in that encoding, naming the key, rather than fail."""
    try:
        value.encode(encoding)
    except UnicodeEncodeError as error:
        char = value[error.start]
        raise _refuse(
            key,
            "not_encodable",
            f"{char!r} (U+{ord(char):04X}) has no {encoding} code; ask for the UTF-8 payload",
        ) from None


def _refuse(key: str | None, reason: str, detail: str) -> InvalidQrPayloadError:
    where = f"{key}: " if key else ""
    return InvalidQrPayloadError(f"QR payload refused, {where}{detail}", key=key, reason=reason)
