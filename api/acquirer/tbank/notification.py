"""A notification from T-Bank: checked before anything is read from it.

T-Bank POSTs JSON to the NotificationURL given in Init on each status change, signed with the
same Token as requests (so with the terminal's password, which only T-Bank and Kvit know), and
retries until the answer's body is `OK`.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.acquirer.tbank.token import signed

Text = Annotated[str, Field(max_length=100)]


class TBankNotification(BaseModel):
    """The fields Kvit reads; the token covers every root field, known or not."""

    model_config = ConfigDict(extra="allow")

    TerminalKey: Text
    OrderId: UUID
    Success: bool
    Status: Annotated[str, Field(max_length=40)]
    PaymentId: int | Text
    ErrorCode: Text = "0"
    Amount: Annotated[int, Field(ge=0)]
    CardId: int | Text | None = None
    Pan: Text | None = None
    ExpDate: Text | None = None
    RebillId: int | Text | None = None


class NotificationRefused(Exception):
    """Not from T-Bank for this terminal: a forged or misdirected notification."""


def verified(fields: Any, terminal_key: str, password: str) -> TBankNotification:
    if not isinstance(fields, dict) or not signed(fields, password):
        raise NotificationRefused("the notification's Token does not match")
    note = TBankNotification.model_validate(fields)
    if note.TerminalKey != terminal_key:
        raise NotificationRefused("the notification is for another terminal")
    return note
