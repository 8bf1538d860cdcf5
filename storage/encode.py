"""A new event's stored form straight from its class and fields, without building the event.

The mapper's way (`Mapper.to_stored_event`) first needs the event object: a frozen dataclass
of a score of fields, checked in `__post_init__`, then copied back out with `vars()`. A bulk
import writes two new events per register line and never reads them back, so that was a
large part of a line's CPU. Here the state is laid out as `vars()` would give it (the
dataclass's field order, less the originator's id and version) and goes through the very
same transcoder, compressor and cipher: the stored bytes are the mapper's, by construction
and pinned by tests/integration/test_notice_encoding_pg.py.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from storage.transcoder import OrjsonTranscoder

_ORIGINATOR = ("originator_id", "originator_version")


_LAYOUTS: dict[type[Any], tuple[str, tuple[str, ...]]] = {}


def _layout(kind: type[Any]) -> tuple[str, tuple[str, ...]]:
    """The event class's topic and the names of its stored state, in `vars()` order."""
    known = _LAYOUTS.get(kind)
    if known is not None:
        return known
    names = tuple(f.name for f in fields(kind) if f.name not in _ORIGINATOR)
    if getattr(kind, "class_version", 1) > 1:  # the mapper would add it: keep to its path
        raise TypeError(f"{kind.__name__} has a class_version: encode it through the mapper")
    known = _LAYOUTS[kind] = (get_topic(kind), names)
    return known


def encode_new(
    mapper: Mapper[UUID],
    kind: type[Any],
    originator_id: UUID,
    originator_version: int,
    state: dict[str, Any],
) -> StoredEvent:
    """What `mapper.to_stored_event(kind(originator_id=…, originator_version=…, **state))`
    returns. `state` holds every other field: `timestamp`, and `originator_topic` for a
    creation event."""
    topic, names = _layout(kind)
    if len(state) != len(names):
        raise TypeError(f"{kind.__name__} stores {names}, not {tuple(state)}")
    transcoder = mapper.transcoder
    if isinstance(transcoder, OrjsonTranscoder):
        stored_state = transcoder.encode_fields(names, state)
    else:
        stored_state = transcoder.encode({name: state[name] for name in names})
    if mapper.compressor:
        stored_state = mapper.compressor.compress(stored_state)
    if mapper.cipher:
        stored_state = mapper.cipher.encrypt(stored_state)
    return StoredEvent(
        originator_id=originator_id,
        originator_version=originator_version,
        topic=topic,
        state=stored_state,
    )
