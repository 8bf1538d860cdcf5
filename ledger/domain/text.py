"""Free text the write side accepts: one rule for every name, address, purpose and reason.

What the ledger records is read forever by every follower of the log and printed where space is
bounded, so a text value is checked once, at the edge, by its field's `TextField`:

- no control or format character: PostgreSQL text cannot hold NUL (one NUL stopped every read
  model for good), a control character breaks CSV, e-mail and terminals, and a bidi override
  or a zero-width character makes a name look like another;
- within its field's length: the read side's limit, or ГОСТ Р 56042's for what a bill's payment
  QR code carries (`Name` 160, `BankName` 45, `Purpose` 210 characters). A value over it is
  refused, never cut: the standard has no rule for shortening, and a cut bank or supplier name
  on a payer's screen is a name nobody chose.

Whitespace is folded (every run of spaces, tabs and line breaks becomes one space) in names and
addresses. Text a bank sent (a notice's payer and purpose) is only trimmed: a notice's content
is fingerprinted, so a re-sent register must read exactly as before to stay a duplicate.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ledger.errors import InvalidTextError


@dataclass(frozen=True)
class TextField:
    """The rule for one field of free text: `parse` returns the value to record, or raises
    `InvalidTextError` naming the field and why (`empty`, `too_long`, `control_character`)."""

    name: str
    max_length: int
    fold: bool = True
    """Fold whitespace runs to one space (names); else only trim (text as a bank sent it)."""

    def parse(self, value: str) -> str:
        """The value to record: whitespace folded (or trimmed), then checked."""
        return self.require(" ".join(value.split()) if self.fold else value.strip())

    def accept(self, value: str) -> str:
        """The value as given, once `parse` accepts it: for a command whose request is
        fingerprinted as it was sent (its handler records the parsed form)."""
        self.parse(value)
        return value

    def require(self, value: str) -> str:
        """The value exactly as given, checked (an identity is never rewritten)."""
        if not value:
            raise self._refuse(f"{self.name} is empty", "empty")
        if len(value) > self.max_length:
            raise self._refuse(
                f"{self.name} holds at most {self.max_length} characters, got {len(value)}",
                "too_long",
            )
        if not _printable(value):
            raise self._refuse(
                f"{self.name} holds a control or invisible character"
                f" (U+{ord(_first_unprintable(value)):04X})",
                "control_character",
            )
        return value

    def parse_optional(self, value: str | None) -> str | None:
        """None or blank stays None (an optional field not given)."""
        if value is None or not value.strip():
            return None
        return self.parse(value)

    def _refuse(self, message: str, reason: str) -> InvalidTextError:
        return InvalidTextError(message, field=self.name, reason=reason, max_length=self.max_length)


def _allowed(char: str) -> bool:
    # Any space separator is kept as the bank sent it (a no-break space is common in names).
    return char.isprintable() or unicodedata.category(char) == "Zs"


def _printable(text: str) -> bool:
    # isprintable() is the fast path (C, whole string); the per-character look only runs on
    # the rare value that holds a no-break space or worse.
    return text.isprintable() or all(_allowed(char) for char in text)


def _first_unprintable(text: str) -> str:
    return next(char for char in text if not _allowed(char))


# --- the fields ------------------------------------------------------------------------------
# ГОСТ Р 56042-2014's maximum lengths, for what a bill's QR code carries (ledger/qr/payload.py).
SUPPLIER_NAME = TextField("name", 160)  # `Name`
BANK_NAME = TextField("bank_name", 45)  # `BankName`
PURPOSE = TextField("purpose", 210, fold=False)  # `Purpose`, as the bank sent it
# The read side's and the API's own bounds.
ADDRESS = TextField("address", 500)
SERVICE = TextField("service", 200)
REASON = TextField("reason", 200)
PAYER_NAME = TextField("payer", 200, fold=False)  # a notice's payer, as the bank sent it
PAYER_ID = TextField("payer_id", 200, fold=False)  # an identity: never rewritten
EMAIL = TextField("email", 254, fold=False)
ACQUIRER_REF = TextField("acquirer_ref", 100, fold=False)
