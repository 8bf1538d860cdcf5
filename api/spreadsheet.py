"""CSV that a spreadsheet opens as data: the one writer of every CSV Kvit writes (the supplier
register, the rejects file of a notice import).

Excel and LibreOffice run a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (`=HYPERLINK(…)`, DDE `-2+3+cmd|…`), and these files carry text that
banks, payers and operators wrote. So, as OWASP's CSV-injection rule says, such a cell gets a
leading `'` and every cell is quoted. A plain number (`-1000,00`, a refund's amount) is left as
it is: it cannot hold a formula, and an accountant's sums need it to stay a number. Deciding by
the value rather than by the column keeps one rule for every writer, whatever its columns.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


def neutral_cell(value: object) -> str:
    """`value` as a cell's text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SpreadsheetWriter:
    """`csv.writer` for `;`-separated files as Russian Excel opens them, every cell neutral and
    quoted."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([neutral_cell(cell) for cell in cells])
