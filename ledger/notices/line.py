"""One line of a bank notice register, as values: a `NoticeLine` (canonical values, amount in
kopecks) or a `RejectedLine` with a stable `code` and a reason (`ledger/notices/file.py`
reads the file; resolving a line against the ledger happens at import).

Columns (a header row names them; order is free, unknown columns are ignored):
`order_id;order_date;amount;payer;recipient_inn;recipient_kpp;bik;settlement_account;document_id;
housing_id;els;account_number;period;purpose;action` and optionally `commission`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

from ledger.domain.amounts import MAX_AMOUNT, kopecks_of_rubles
from ledger.domain.identifiers import (
    parse_account_number,
    parse_bik,
    parse_document_id,
    parse_els,
    parse_inn,
    parse_kpp,
    parse_period,
    parse_service_id,
    parse_settlement_account,
)
from ledger.domain.text import PAYER_NAME, PURPOSE
from ledger.errors import InvalidCommissionError, LedgerError

COLUMNS = (
    "order_id", "order_date", "amount", "payer", "recipient_inn", "recipient_kpp", "bik",
    "settlement_account", "document_id", "housing_id", "els", "account_number", "period",
    "purpose", "action",
)  # fmt: skip


OPTIONAL_COLUMNS = ("commission",)


ORDER_ID_LENGTH = 32


_SPACES = str.maketrans("", "", " \u00a0\u202f'")

T = TypeVar("T")


def _memo(parse: Callable[..., T]) -> Callable[..., T]:
    """A pure check remembered for the values a register repeats on every line (the
    supplier's ИНН, КПП, БИК and account, an account's number, the day): a value that fails
    raises each time, as nothing is remembered for it."""
    return lru_cache(maxsize=4096)(parse)


_inn, _kpp, _bik = _memo(parse_inn), _memo(parse_kpp), _memo(parse_bik)
_account_number, _document_id = _memo(parse_account_number), _memo(parse_document_id)
_service_id, _els, _period = _memo(parse_service_id), _memo(parse_els), _memo(parse_period)
_settlement = _memo(lambda value, bik: parse_settlement_account(value, bik=bik))


@dataclass(frozen=True)
class NoticeLine:
    """One accepted line of a register: a payment notice, or (`action == "annul"`) its annulment."""

    line_no: int
    order_id: str
    order_date: date
    action: str  # "" (a payment) or "annul"
    amount: int | None = None
    commission: int = 0
    payer: str | None = None
    recipient_inn: str | None = None
    recipient_kpp: str | None = None
    bik: str | None = None
    settlement_account: str | None = None
    document_id: str | None = None
    housing_id: str | None = None
    els: str | None = None
    account_number: str | None = None
    period: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class RejectedLine:
    line_no: int
    order_id: str | None
    code: str
    reason: str
    raw: str


class RegisterLineError(LedgerError):
    """A line (or the header) that cannot be a notice; `code` says which rule it broke."""

    code = "invalid_notice_line"

    def __init__(self, code: str, message: str, **data: Any) -> None:
        super().__init__(message, **data)
        self.code = code


def parse_notice(values: dict[str, str], *, line_no: int = 1) -> NoticeLine:
    """One notice from its fields as text (the register's columns; amounts in rubles)."""
    field = {name: values.get(name, "").strip() for name in (*COLUMNS, *OPTIONAL_COLUMNS)}
    order_id = field["order_id"]
    if len(order_id) != ORDER_ID_LENGTH or not order_id.isascii() or not order_id.isprintable():
        raise RegisterLineError(
            "invalid_order_id",
            f"order_id must be exactly {ORDER_ID_LENGTH} characters, got {order_id!r}",
            field="order_id",
        )
    order_date = parse_order_date(field["order_date"])
    action = field["action"].lower()
    if action not in ("", "annul"):
        raise RegisterLineError("invalid_action", f"action is empty or 'annul', got {action!r}")
    if action == "annul":
        return NoticeLine(line_no, order_id, order_date, action)
    bik = _optional(field["bik"], _bik)
    settlement = field["settlement_account"]
    if settlement and bik is None:
        raise RegisterLineError("missing_bik", "a settlement account needs its bank's БИК")
    amount = parse_rubles(field["amount"], "amount")
    notice = NoticeLine(
        line_no,
        order_id,
        order_date,
        action,
        amount=amount,
        commission=parse_commission(field["commission"], amount),
        payer=PAYER_NAME.parse_optional(field["payer"]),
        recipient_inn=_optional(field["recipient_inn"], _inn),
        recipient_kpp=_optional(field["recipient_kpp"], _kpp),
        bik=bik,
        settlement_account=_optional(settlement, lambda v: _settlement(v, bik or "")),
        document_id=_optional(field["document_id"], _document_id),
        housing_id=_optional(field["housing_id"], _service_id),
        els=_optional(field["els"], _els),
        account_number=_optional(field["account_number"], _account_number),
        period=_optional(field["period"], _period),
        purpose=PURPOSE.parse_optional(field["purpose"]),
    )
    has_reference = notice.document_id or notice.housing_id or notice.els
    if not has_reference and not (notice.account_number and notice.recipient_inn):
        raise RegisterLineError(
            "missing_reference",
            "a notice names document_id, housing_id, els, or account_number with recipient_inn",
        )
    return notice


def parse_rubles(value: str, field: str) -> int:
    """`5234,17`, `5234.17`, `5 234,17`, `5234` → kopecks. Never a float."""
    kopecks = kopecks_of_rubles(value.translate(_SPACES))  # spaces: thousands separators
    if kopecks is None:
        raise RegisterLineError(
            "invalid_amount",
            f"{field} must be rubles with up to two decimals, got {value!r}",
            field=field,
        )
    if field == "amount" and not 0 < kopecks <= MAX_AMOUNT:
        raise RegisterLineError(
            "invalid_amount",
            f"amount must be positive and at most {MAX_AMOUNT} kopecks, got {value!r}",
            field=field,
        )
    return kopecks


def parse_commission(value: str, amount: int) -> int:
    """The bank's commission in rubles (empty: none), at most the notice's amount: a fee beyond
    the payment it was charged on is a broken line, and unbounded it would swamp every total."""
    commission = parse_rubles(value, "commission") if value else 0
    if commission > amount:
        raise InvalidCommissionError(
            f"commission must be at most the amount ({amount} kopecks), got {value!r}",
            field="commission",
            amount=amount,
        )
    return commission


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{2})\.([0-9]{2})\.([0-9]{4})")


@lru_cache(maxsize=1024)  # a register's lines share a few days
def parse_order_date(value: str) -> date:
    """`2026-03-15` or `15.03.2026` (a regex, not strptime: it is a fifth of a line's cost)."""
    match = _DATE.fullmatch(value)
    try:
        if match is not None:
            if match.group(1):
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            return date(int(match.group(6)), int(match.group(5)), int(match.group(4)))
    except ValueError:
        pass  # 31.02.2026 and the like
    raise RegisterLineError(
        "invalid_order_date", f"order_date must be YYYY-MM-DD or DD.MM.YYYY, got {value!r}"
    )


def _optional(value: str, parse: Any) -> Any:
    return parse(value) if value else None
