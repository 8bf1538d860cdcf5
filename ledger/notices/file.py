"""Bank notice registers: CSV (`;`, UTF-8 with or without BOM, or cp1251) or JSON Lines.

A register is read as a stream of lines, never loaded whole, so memory stays flat in the file's
size. Each line becomes either a `NoticeLine` or a `RejectedLine` (`ledger/notices/line.py`); a
bad line never stops the others. Resolving a line against the ledger (unknown account,
requisites that are not the supplier's) happens at import, not here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

import orjson

from ledger.errors import LedgerError
from ledger.notices.line import COLUMNS, NoticeLine, RegisterLineError, RejectedLine, parse_notice

MAX_LINE_BYTES = 8192  # a notice is a few hundred bytes; a longer line is garbage, not a notice
_SNIFF_BYTES = 65536


def read_register(stream: IO[bytes]) -> Iterator[NoticeLine | RejectedLine]:
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


def _raw_lines(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
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


def _skip_to_newline(stream: IO[bytes]) -> bytes:
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
