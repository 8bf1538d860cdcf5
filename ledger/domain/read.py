"""How other contexts see the ledger's events: each event that read models or notices follow
has a nested `Read` view with the event's fields, typed for what a reader of the log really gets.

A reader gets either the domain event itself or, on the log reader's fast path
(storage/log.py), the stored fields decoded lazily, with ids left as text: the read models store
text, and skipping domain objects and UUIDs is what makes a rebuild fast. Only ids differ, so a
view is its event's fields with `UUID` read as `UuidOrText`; tests/unit/test_event_views.py
holds every view to its event and to what the log reader returns on every backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from ledger.domain.postings import Posting

UuidOrText = UUID | str
"""An id in an event as a reader gets it: the UUID, or its text (`str()` gives the text)."""


class EventRead(Protocol):
    """What every stored event has besides its own fields (the id and version of its
    originator are the log's columns, not the event's state: readers take those from there)."""

    timestamp: datetime


class PostingsRead(EventRead, Protocol):
    """A money-moving event: the postings it carries."""

    postings: list[Posting]
