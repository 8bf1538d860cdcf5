"""Reading the event log in commit order: what projections, auditors and tests replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol

from ledger.postings import Posting

READ_BATCH = 1000


def iter_events(
    app: Application[UUID], *, after: int = 0, batch: int = READ_BATCH
) -> Iterator[tuple[int, DomainEventProtocol[Any]]]:
    """Every stored event after position `after`, with its position (notification id)."""
    start = after + 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=batch)
        for notification in notifications:
            yield notification.id, app.mapper.to_domain_event(notification)
        if len(notifications) < batch:
            return
        start = notifications[-1].id + 1


def postings_of(event: DomainEventProtocol[Any]) -> list[Posting]:
    """The postings an event carries (only money-moving events have any)."""
    return list(getattr(event, "postings", None) or [])
