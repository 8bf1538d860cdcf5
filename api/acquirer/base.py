"""What Kvit needs from an acquirer. A real one plugs in by implementing `Acquirer`."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class Acquirer(Protocol):
    def checkout_url(self, operation_id: UUID, amount: int, description: str) -> str:
        """Where the payer goes to approve the card operation. The acquirer reports the outcome
        to `POST /v1/acquirer/notifications`, signed with the shared secret."""
        ...
