"""The one reader of the event log: events in batches, decoding only what a follower needs.

The only code that knows the library's table layout (a fast path on PostgreSQL reads the events
table itself); elsewhere it goes through the library's `select_notifications`."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row


@dataclass(slots=True)
class Logged:
    """One stored event and its position (notification id) in the log."""

    position: int
    topic: str
    event: Any
    originator_id: str
    """The originator's id as text, as the read models store it."""
    _at: str | None = None

    @property
    def at(self) -> str:
        # Asked for several times per event (a row's times, its journal's): computed once.
        if self._at is None:
            event = self.event
            fast = event.timestamp_text() if type(event) is RawEvent else None
            self._at = fast or timestamp(event.timestamp)
        return self._at


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
    app: Application[UUID],
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
    if isinstance(app.recorder, PostgresApplicationRecorder):
        events = _from_rows(app, _select_postgres(app.recorder, after, upper, topics))
    else:
        stored = app.recorder.select_notifications(
            start=after, limit=limit, stop=upper, topics=list(topics), inclusive_of_start=False
        )
        to_event = decoder(app)
        events = [Logged(n.id, n.topic, to_event(n), str(n.originator_id)) for n in stored]
    return Chunk(events, upper, len(events), upper < head_now)


def _from_rows(app: Application[UUID], rows: list[tuple[Any, ...]]) -> list[Logged]:
    """Rows of `_select_postgres` -> events, in one pass with no object per row but the
    event (the hot loop of a rebuild)."""
    mapper = app.mapper
    if mapper.cipher is not None or mapper.compressor is not None:
        decode = decoder(app)
        return [Logged(i, t, decode(Stored(i, UUID(o), v, t, s)), o) for i, o, v, t, s in rows]
    transcoder, events = mapper.transcoder, []
    for i, o, v, t, s in rows:
        fields = _loads(s)
        if "class_version" in fields:  # needs upcasting: the full domain event
            # A `Stored` has every field the mapper reads (cheaper than a StoredEvent).
            event = mapper.to_domain_event(cast(StoredEvent, Stored(i, UUID(o), v, t, s)))
        else:
            event = RawEvent(fields, transcoder)
        events.append(Logged(i, t, event, o))
    return events


def _select_postgres(
    recorder: PostgresApplicationRecorder, after: int, upper: int, topics: Collection[str]
) -> list[tuple[Any, ...]]:
    """The library's `select_notifications`, minus two thirds of its cost: plain tuples in
    binary, for the columns we use (the statement is the library's, narrowed); the
    originator's id as text, which is what the read models store."""
    where = (recorder.datastore.schema, recorder.events_table_name)
    statement = _STATEMENTS.get(where)
    if statement is None:
        statement = _STATEMENTS[where] = (
            sql.SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state"
                " FROM {}.{} WHERE notification_id > %s AND notification_id <= %s"
                " AND topic = ANY(%s) ORDER BY notification_id"
            )
            .format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
            .as_string(None)
        )
    with recorder.datastore.get_connection() as connection:
        cursor = connection.cursor(binary=True, row_factory=tuple_row)
        cursor.execute(statement, [after, upper, list(topics)], prepare=True)
        return cursor.fetchall()


class Stored(NamedTuple):
    """A notification as `Mapper.to_domain_event` reads it (cheaper than the dataclass)."""

    id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes


_STATEMENTS: dict[tuple[str, str], str] = {}


class RawEvent:
    """A stored event's fields, decoded lazily: what the read models need, at a third of the
    cost of building domain event objects. Ids come back as text (the read models store text),
    times as `datetime`; anything else the transcoder encoded is decoded by the transcoder."""

    __slots__ = ("_fields", "_transcoder")

    def __init__(self, fields: dict[str, Any], transcoder: Any) -> None:
        self._fields = fields
        self._transcoder = transcoder

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._fields[name]
        except KeyError:
            raise AttributeError(name) from None
        if type(value) is dict and "_type_" in value:
            kind, data = value["_type_"], value["_data_"]
            if kind == "uuid_hex":
                return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
            if kind == "datetime_iso":
                return datetime.fromisoformat(data)
            return self._transcoder.names[kind].decode(data)
        return value

    def timestamp_text(self) -> str | None:
        """`timestamp(self.timestamp)` straight from the stored text, in the common case of
        UTC with microseconds ("...T07:40:59.770973+00:00"); None otherwise."""
        value = self._fields.get("timestamp")
        if type(value) is dict and value.get("_type_") == "datetime_iso":
            text = value["_data_"]
            if len(text) == 32 and text.endswith("+00:00") and text[19] == ".":
                return f"{text[:26]}Z"
        return None


def decoder(app: Application[UUID]) -> Callable[[Any], Any]:
    """Stored event -> something with the event's attributes. The fast path applies when the
    mapper only transcodes JSON (no cipher, no compression) and events have no class
    versions to upcast (ours have none yet; one that has gets the full domain event)."""
    mapper = app.mapper
    transcoder = mapper.transcoder
    if mapper.cipher is not None or mapper.compressor is not None:
        return mapper.to_domain_event

    def decode(stored: Any) -> Any:
        fields = _loads(stored.state)
        if "class_version" in fields:
            return mapper.to_domain_event(stored)
        return RawEvent(fields, transcoder)

    return decode


def _loads(state: bytes) -> Any:
    """orjson is several times faster than `json`; what it refuses (NaN, huge integers) the
    standard parser, which the transcoder itself uses, still reads."""
    try:
        return orjson.loads(state)
    except orjson.JSONDecodeError:
        return json.loads(state)


def timestamp(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order on both databases."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def head(app: Application[UUID]) -> int:
    return app.recorder.max_notification_id() or 0
