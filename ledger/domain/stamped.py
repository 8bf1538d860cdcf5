"""An event base that tells the aggregate the event's own time while the event is applied.

The library sets `modified_on` only after an event's method has run, so a method that records
"when" (a status history) would otherwise get the previous event's time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


class StampedEvent(Aggregate.Event):
    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:
            aggregate.event_time = self.timestamp
        return super().mutate(aggregate)


def event_time(aggregate: Any) -> datetime:
    """The time of the event being applied to `aggregate`."""
    moment: datetime = aggregate.event_time
    return moment
