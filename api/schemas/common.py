"""What every resource's bodies share: amounts, bounded text, and strict request bodies."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.amounts import MAX_AMOUNT

# Strict: a JSON string ("100"), float (100.0) or boolean (true) is not an amount of kopecks.
Kopecks = Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True, description="integer kopecks")]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Digits = Annotated[str, Field(min_length=1, max_length=40)]
# ASCII digits only: str.isdigit() also accepts "²" or "٣", which the ledger's checks then choke on.
AsciiDigits = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\s*[0-9]+\s*$")]


# No whitespace and no control characters (a NUL would reach the SMTP server's headers).
EMAIL = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Created(BaseModel):
    id: UUID
