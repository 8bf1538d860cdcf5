"""What the log's money-moving events carry, for the readers that sum them (the log itself is
read by storage/log.py)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol

from ledger.postings import Posting


def postings_of(event: DomainEventProtocol[Any]) -> list[Posting]:
    """The postings an event carries (only money-moving events have any)."""
    return list(getattr(event, "postings", None) or [])
