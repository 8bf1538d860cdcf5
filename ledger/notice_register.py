"""Bank notice registers: CSV (`;`, UTF-8 with or without BOM, or cp1251) or JSON Lines.

A register is read as a stream of lines, never loaded whole, so memory stays flat in the file's
size. Each line becomes either a `NoticeLine` (canonical values, amount in kopecks) or a
`RejectedLine` with a stable `code` and a reason; a bad line never stops the others. Resolving a
line against the ledger (unknown account, requisites that are not the supplier's) happens at
import, not here.

Columns (a header row names them; order is free, unknown columns are ignored):
`order_id;order_date;amount;payer;recipient_inn;recipient_kpp;bik;settlement_account;document_id;
housing_id;els;account_number;period;purpose;action` and optionally `commission`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ledger.amounts import MAX_AMOUNT, kopecks_of_rubles
from ledger.errors import LedgerError
from ledger.identifiers import (
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

COLUMNS = (
    "order_id", "order_date", "amount", "payer", "recipient_inn", "recipient_kpp", "bik",
    "settlement_account", "document_id", "housing_id", "els", "account_number", "period",
    "purpose", "action",
)  # fmt: skip
OPTIONAL_COLUMNS = ("commission",)
ORDER_ID_LENGTH = 32
MAX_LINE_BYTES = 8192  # a notice is a few hundred bytes; a longer line is garbage, not a notice
_SNIFF_BYTES = 65536
_SPACES = str.maketrans("", "", " \u00a0\u202f'")


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


def read_register(stream: BinaryIO) -> Iterator[NoticeLine | RejectedLine]:
    """Every data line of the register, in file order, accepted or rejected."""
    head = stream.read(_SNIFF_BYTES)
    encoding = _detect_encoding(head)
    lines = _raw_lines(head, stream)
    first = next(lines, None)
    if first is None:
        return
    line_no, raw = first
    text = _decode(raw, encoding).lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        yield _json_line(line_no, text)
        for line_no, raw in lines:
            yield _json_line(line_no, _decode(raw, encoding))
        return
    header = [name.strip().lower() for name in next(csv.reader([text], delimiter=";"))]
    missing = [name for name in ("order_id", "order_date", "amount") if name not in header]
    if missing:
        raise RegisterLineError(
            "invalid_register_header",
            f"the register's header lacks {', '.join(missing)}; it must name the columns "
            f"{';'.join(COLUMNS)}",
            missing=missing,
        )
    for line_no, raw in lines:
        text = _decode(raw, encoding)
        if not text.strip():
            continue
        try:
            values = next(csv.reader([text], delimiter=";"))
        except csv.Error as error:
            yield RejectedLine(line_no, None, "malformed_line", str(error), text)
            continue
        if len(values) > len(header):
            yield RejectedLine(line_no, None, "malformed_line", "more fields than columns", text)
            continue
        yield _parse_line(line_no, dict(zip(header, values, strict=False)), text)


def _detect_encoding(head: bytes) -> str:
    """UTF-8 (a BOM is allowed) or cp1251, by a vote of the first chunk's non-ASCII lines.

    Cyrillic in cp1251 practically never forms valid UTF-8, so each line votes clearly; a vote
    rather than one strict decode keeps one corrupt line from flipping a whole UTF-8 file.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    votes = {"utf-8": 0, "cp1251": 0}
    for raw in head.split(b"\n")[:-1] or [head]:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            votes["utf-8"] += 1
        except UnicodeDecodeError:
            votes["cp1251"] += 1
    return "cp1251" if votes["cp1251"] > votes["utf-8"] else "utf-8"


def _raw_lines(head: bytes, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) with CR/LF stripped; `\\n` never occurs inside a UTF-8 sequence."""
    pending = head
    line_no = 0
    while True:
        chunk = stream.read(_SNIFF_BYTES)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line_no += 1
            yield line_no, raw.rstrip(b"\r")
        if not chunk:
            break
        if len(pending) > MAX_LINE_BYTES:
            line_no += 1
            yield line_no, pending[:MAX_LINE_BYTES]  # rejected below as too long
            pending = _skip_to_newline(stream)
    if pending.strip():
        line_no += 1
        yield line_no, pending.rstrip(b"\r")


def _skip_to_newline(stream: BinaryIO) -> bytes:
    while chunk := stream.read(_SNIFF_BYTES):
        if b"\n" in chunk:
            return chunk.split(b"\n", 1)[1]
    return b""


def _decode(raw: bytes, encoding: str) -> str:
    if len(raw) >= MAX_LINE_BYTES:
        return "\x00too long"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return "\x00bad encoding"


def _json_line(line_no: int, text: str) -> NoticeLine | RejectedLine:
    if not text.strip():
        return RejectedLine(line_no, None, "malformed_line", "empty line", text)
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return RejectedLine(line_no, None, "malformed_line", f"not JSON: {error}", text)
    if not isinstance(record, dict):
        return RejectedLine(line_no, None, "malformed_line", "a line must be a JSON object", text)
    values = {str(k).lower(): "" if v is None else str(v) for k, v in record.items()}
    return _parse_line(line_no, values, text)


def _parse_line(line_no: int, values: dict[str, str], raw: str) -> NoticeLine | RejectedLine:
    if raw.startswith("\x00"):
        return RejectedLine(line_no, None, "malformed_line", raw[1:], "")
    try:
        return parse_notice(values, line_no=line_no)
    except LedgerError as error:
        return RejectedLine(line_no, values.get("order_id", "").strip() or None, error.code,
                            error.message, raw)  # fmt: skip


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
    bik = _optional(field["bik"], parse_bik)
    settlement = field["settlement_account"]
    if settlement and bik is None:
        raise RegisterLineError("missing_bik", "a settlement account needs its bank's БИК")
    notice = NoticeLine(
        line_no,
        order_id,
        order_date,
        action,
        amount=parse_rubles(field["amount"], "amount"),
        commission=parse_rubles(field["commission"], "commission") if field["commission"] else 0,
        payer=field["payer"] or None,
        recipient_inn=_optional(field["recipient_inn"], parse_inn),
        recipient_kpp=_optional(field["recipient_kpp"], parse_kpp),
        bik=bik,
        settlement_account=_optional(
            settlement, lambda v: parse_settlement_account(v, bik=bik or "")
        ),
        document_id=_optional(field["document_id"], parse_document_id),
        housing_id=_optional(field["housing_id"], parse_service_id),
        els=_optional(field["els"], parse_els),
        account_number=_optional(field["account_number"], parse_account_number),
        period=_optional(field["period"], parse_period),
        purpose=field["purpose"] or None,
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


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{2})\.([0-9]{2})\.([0-9]{4})")


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


@contextmanager
def rejects_file(path: Path) -> Iterator[Callable[[RejectedLine], None]]:
    """A writer of rejected lines with their reasons, as CSV a supplier's operator can open;
    each line is written as it comes, so memory stays flat."""
    with open(path, "x", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["line", "order_id", "code", "reason", "raw"])

        def write(line: RejectedLine) -> None:
            writer.writerow([line.line_no, line.order_id or "", line.code, line.reason, line.raw])

        yield write


def _optional(value: str, parse: Any) -> Any:
    return parse(value) if value else None
