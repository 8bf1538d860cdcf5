"""Amounts of money: whole kopecks (never a float), the one bound, and rubles as text.

The write side stores and checks kopecks. Registers, QR codes and the edge's JSON write rubles
(`5234,17`, `5234.17`, `5234`); one rule reads them and one writes them, so a register line and
a QR `Amount` can never disagree on what a text is worth.
"""

from __future__ import annotations

import re

from ledger.errors import InvalidAmountError

MAX_AMOUNT = 10**12  # ten billion rubles: a bound, not a business rule
_RUBLES = re.compile(r"([0-9]{1,16})(?:[.,]([0-9]{1,2}))?")


def check_amount(amount: int) -> int:
    """`amount` if it is a positive whole number of kopecks within the bound (the Ledger's own
    check, for every caller: the HTTP edge checks the same before it)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmountError(
            f"amount must be a positive whole number of kopecks up to {MAX_AMOUNT}",
            amount=amount,
        )
    return amount


def kopecks_of_rubles(text: str) -> int | None:
    """`5234,17`, `5234.17`, `5234`, `0,5` → kopecks; None unless `text` is rubles with up to
    two decimals (no sign, no spaces: callers strip what their format allows)."""
    match = _RUBLES.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def rubles(kopecks: int) -> str:
    """Kopecks as registers write them: `5234,17` (and `-5234,17`)."""
    sign = "-" if kopecks < 0 else ""
    whole, part = divmod(abs(kopecks), 100)
    return f"{sign}{whole},{part:02d}"
