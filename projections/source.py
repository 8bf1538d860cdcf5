"""Reading the event log in batches, decoding only the events some read model needs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application


@dataclass(slots=True)
class Logged:
    """One stored event and its position (notification id) in the log."""

    position: int
    topic: str
    event: Any
    originator_id: str
    """The originator's id as text, as the read models store it."""

    @property
    def at(self) -> str:
        return timestamp(self.event.timestamp)


@dataclass(slots=True)
class Chunk:
    """What one read of the log gave: the wanted events in a range of positions."""

    events: list[Logged]
    last: int
    """The end of the range read: every wanted event up to here is in `events`."""
    count: int
    """How many events were read (the wanted ones: the database filters by topic)."""
    full: bool
    """True if the log goes on past `last` already (read again at once)."""


def read_chunk(
    app: Application,
    *,
    after: int,
    limit: int,
    topics: Collection[str],
    stop: int | None = None,
) -> Chunk:
    """The wanted events in positions (after, min(after + limit, stop)].

    The database filters by topic, so unwanted events cost nothing. Reading up to `stop` (by
    default the log's head when asked) is safe because writers commit in position order (the
    event store's table lock): nothing can later appear below a position already visible.
    """
    head_now = head(app) if stop is None else stop
    upper = min(after + limit, head_now)
    if upper <= after:
        return Chunk([], after, 0, False)
    notifications = app.recorder.select_notifications(
        start=after, limit=limit, stop=upper, topics=list(topics), inclusive_of_start=False
    )
    to_event = app.mapper.to_domain_event
    events = [Logged(n.id, n.topic, to_event(n), str(n.originator_id)) for n in notifications]
    return Chunk(events, upper, len(events), upper < head_now)


def timestamp(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order on both databases."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def head(app: Application) -> int:
    return app.recorder.max_notification_id() or 0
