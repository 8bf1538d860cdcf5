"""Bank notice registers: CSV (`;`, UTF-8 with or without BOM, or cp1251) or JSON Lines.

A register is read as a stream of lines, never loaded whole, so memory stays flat in the file's
size. Each line becomes either a `NoticeLine` or a `RejectedLine` (`ledger/notices/line.py`); a
bad line never stops the others. A file cut short must not pay a wrong account or amount, so a
CSV line has exactly the header's fields, and a last line with no line break after it is
rejected, whatever it says. Lines end in LF, CRLF or (the first line break decides) a lone CR.
Resolving a line against the ledger (unknown account, requisites that are not the supplier's)
happens at import, not here.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from itertools import chain
from typing import IO

import orjson

from ledger.errors import LedgerError
from ledger.notices.line import COLUMNS, NoticeLine, RegisterLineError, RejectedLine, parse_notice

MAX_LINE_BYTES = 8192  # a notice is a few hundred bytes; a longer line is garbage, not a notice
_SNIFF_BYTES = 65536


def read_register(stream: IO[bytes]) -> Iterator[NoticeLine | RejectedLine]:
    """Every data line of the register, in file order, accepted or rejected. An empty register
    (no line but blank ones, or a header alone) yields nothing."""
    head = stream.read(_SNIFF_BYTES)
    line_break = _line_break(head)
    encoding = _detect_encoding(head, line_break)
    lines = (
        (line_no, _decode(raw, encoding), complete)
        for line_no, raw, complete in _raw_lines(head, stream, line_break)
    )
    first = next(
        ((n, t.lstrip("\ufeff"), c) for n, t, c in lines if t.lstrip("\ufeff").strip()), None
    )
    if first is None:
        return
    parse: Callable[[int, str], NoticeLine | RejectedLine]
    rest: Iterator[tuple[int, str, bool]]
    if first[1].lstrip().startswith("{"):
        parse, rest = _json_line, chain([first], lines)
    else:
        parse, rest = _csv_parser(_header(first[1])), (line for line in lines if line[1].strip())
    for line_no, text, complete in rest:
        parsed = parse(line_no, text)
        yield parsed if complete else _unterminated(parsed, text)


def _header(text: str) -> list[str]:
    try:
        header = [name.strip().lower() for name in next(csv.reader([text], delimiter=";"))]
    except csv.Error as error:
        raise RegisterLineError("invalid_register_header", f"unreadable header: {error}") from None
    missing = [name for name in ("order_id", "order_date", "amount") if name not in header]
    if missing:
        raise RegisterLineError(
            "invalid_register_header",
            f"the register's header lacks {', '.join(missing)}; it must name the columns "
            f"{';'.join(COLUMNS)}",
            missing=missing,
        )
    return header


def _csv_parser(header: list[str]) -> Callable[[int, str], NoticeLine | RejectedLine]:
    def parse(line_no: int, text: str) -> NoticeLine | RejectedLine:
        if text.startswith("\x00"):  # too long or undecodable: `_decode` says which
            return _parse_line(line_no, {}, text)
        try:
            values = fields_of(text)
        except csv.Error as error:
            return RejectedLine(line_no, None, "malformed_line", str(error), text)
        if len(values) != len(header):  # a line cut short, or shifted: never guess its fields
            reason = f"{len(values)} fields where the header names {len(header)}"
            return RejectedLine(line_no, None, "malformed_line", reason, text)
        return _parse_line(line_no, dict(zip(header, values, strict=True)), text)

    return parse


_CSV_SPECIAL = ('"', "\r", "\n", "\x00")


def fields_of(text: str) -> list[str]:
    """A CSV line's fields, as `csv` reads them: a line with no quote, line break or NUL (the
    usual one) is split on `;` (what `csv` does to it, at a fraction of the cost)."""
    if any(char in text for char in _CSV_SPECIAL):
        return next(csv.reader([text], delimiter=";"))
    return text.split(";")


def _unterminated(parsed: NoticeLine | RejectedLine, text: str) -> RejectedLine:
    """The last line of a file that does not end with a line break may be cut short, and a cut
    line can still parse (`…;12` for `…;123`): it is rejected, whatever it says."""
    return RejectedLine(
        parsed.line_no,
        parsed.order_id,
        "unterminated_line",
        "the file does not end with a line break, so its last line may be cut off",
        "" if text.startswith("\x00") else text,
    )


def _line_break(head: bytes) -> bytes:
    """`\\n` (LF or CRLF files), or `\\r` for a file whose first line ends in a lone CR (old
    Mac style); decided once, from the first line break."""
    cr, lf = head.find(b"\r"), head.find(b"\n")
    if cr != -1 and (lf == -1 or cr < lf) and head[cr + 1 : cr + 2] != b"\n":
        return b"\r"
    return b"\n"


def _detect_encoding(head: bytes, line_break: bytes) -> str:
    """UTF-8 (a BOM is allowed) or cp1251, by a vote of the first chunk's non-ASCII lines.

    Cyrillic in cp1251 practically never forms valid UTF-8, so each line votes clearly; a vote
    rather than one strict decode keeps one corrupt line from flipping a whole UTF-8 file.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    votes = {"utf-8": 0, "cp1251": 0}
    for raw in head.split(line_break)[:-1] or [head]:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            votes["utf-8"] += 1
        except UnicodeDecodeError:
            votes["cp1251"] += 1
    return "cp1251" if votes["cp1251"] > votes["utf-8"] else "utf-8"


def _raw_lines(
    head: bytes, stream: IO[bytes], line_break: bytes
) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, ended by a line break) with CR/LF stripped; neither byte ever
    occurs inside a UTF-8 or cp1251 character."""
    pending = head
    line_no = 0
    while True:
        chunk = stream.read(_SNIFF_BYTES)
        pending += chunk
        *complete, pending = pending.split(line_break)
        for raw in complete:
            line_no += 1
            yield line_no, raw.rstrip(b"\r"), True
        if not chunk:
            break
        if len(pending) > MAX_LINE_BYTES:
            line_no += 1
            yield line_no, pending[:MAX_LINE_BYTES], True  # rejected below as too long
            pending = _skip_to_newline(stream, line_break)
    if pending.strip():
        line_no += 1
        yield line_no, pending.rstrip(b"\r"), False


def _skip_to_newline(stream: IO[bytes], line_break: bytes) -> bytes:
    while chunk := stream.read(_SNIFF_BYTES):
        if line_break in chunk:
            return chunk.split(line_break, 1)[1]
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
