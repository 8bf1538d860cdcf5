"""The one reader of the event log: stored events in position (notification id) order.

Every follower (read models, the audit chain, the mail outbox, replays, exports) reads the log
here, and this is the only code that knows the library's table layout: on PostgreSQL it reads
the events table itself (plain tuples in binary, a third of the cost of
`select_notifications`); elsewhere it goes through the library's API.

Reading up to the head is safe because writers commit in position order (the event store's
table lock): nothing can later appear below a position already visible.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg import InterfaceError, OperationalError, sql
from psycopg.rows import tuple_row

from storage.decode import RawEvent, Stored, decoder, loads, timestamp, to_domain_event
from storage.sql import SQLITE_IN_CHUNK, Store, Tx

READ_BATCH = 1000
_COLUMNS = "notification_id, originator_id::text, originator_version, topic, state"
_END = 2**63 - 1


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


class Recorded(NamedTuple):
    """A stored event exactly as the table holds it, with its position: what the audit chain
    hashes (the state's bytes as stored, never re-encoded)."""

    position: int
    originator_id: str
    """Lower-case hyphenated UUID text."""
    version: int
    topic: str
    state: bytes


def head(app: Application[UUID]) -> int:
    """The log's last position (0 when it is empty)."""
    return app.recorder.max_notification_id() or 0


def in_memory(app: Application[UUID]) -> bool:
    """The log lives in this process only (the library's POPO recorder): no database beside
    it to keep side tables such as the audit chain in."""
    return isinstance(app.recorder, POPOApplicationRecorder)


def read_chunk(
    app: Application[UUID],
    *,
    after: int,
    limit: int,
    topics: Collection[str],
    stop: int | None = None,
) -> Chunk:
    """The wanted events in positions (after, min(after + limit, stop)], decoded lazily.

    The database filters by topic, so unwanted events cost nothing; `stop` defaults to the
    log's head when asked."""
    head_now = head(app) if stop is None else stop
    upper = min(after + limit, head_now)
    if upper <= after:
        return Chunk([], after, 0, False)
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _postgres(recorder, _RANGE, [after, upper, list(topics)])
        events = _from_rows(app, rows)
    else:
        stored = recorder.select_notifications(
            start=after, limit=limit, stop=upper, topics=list(topics), inclusive_of_start=False
        )
        to_event = decoder(app)
        events = [Logged(n.id, n.topic, to_event(n), str(n.originator_id)) for n in stored]
    return Chunk(events, upper, len(events), upper < head_now)


def read_stored(
    app: Application[UUID],
    *,
    after: int,
    limit: int,
    stop: int | None = None,
    topics: Sequence[str] = (),
) -> list[Recorded]:
    """Up to `limit` stored events after position `after` (up to `stop`, else up to the
    log's head when asked), as stored."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _windows(recorder, after, stop, limit, topics)
        return [Recorded(*row) for row in rows]
    found = recorder.select_notifications(
        start=after, limit=limit, stop=stop, topics=list(topics), inclusive_of_start=False
    )
    return [
        Recorded(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in found
    ]


def _windows(
    recorder: PostgresApplicationRecorder,
    after: int,
    stop: int | None,
    limit: int,
    topics: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Up to `limit` rows of positions (after, stop], read in windows of positions that start
    `limit` wide and double while they come back short (gaps in the ids, other topics); with
    no `stop`, up to the log's head, read once a window comes back short.

    A range open at the top, or as wide as the rest of the log, was planned with the table's
    statistics stale (as after a bulk load) as a bitmap scan and sort of every row in it, for
    every batch: 0.6 s for 5,000 rows of a 200,000-event log. A window of about the rows
    wanted costs what they do, whatever the statistics say."""
    rows: list[tuple[Any, ...]] = []
    span, end = max(limit, 1), stop
    while True:
        upper = after + span if end is None else min(after + span, end)
        if upper <= after:
            return rows
        wanted = limit - len(rows)
        if topics:
            rows += _postgres(recorder, _AFTER_TOPICS, [after, upper, list(topics), wanted])
        else:
            rows += _postgres(recorder, _AFTER, [after, upper, wanted])
        if len(rows) >= limit:
            return rows
        if end is None:  # short: gaps in the ids, or the end of the log
            end = recorder.max_notification_id() or 0
        after, span = upper, span * 2


StoredRow = tuple[int, str, int, str, bytes]
"""A stored event as a plain tuple, in `Recorded`'s field order (no object per row)."""


def scan_stored(
    app: Application[UUID], tx: Tx, *, after: int, limit: int, stop: int | None = None
) -> list[StoredRow]:
    """Up to `limit` stored events after position `after` (up to `stop`), read inside `tx`, a
    transaction of a store on the log's own database: an auditor reads the log and its side
    tables in one snapshot. Plain tuples in binary, the fastest way through psycopg."""
    recorder = app.recorder
    end = _END if stop is None else stop
    if isinstance(recorder, PostgresApplicationRecorder):
        cursor = tx.connection.cursor(binary=True, row_factory=tuple_row)
        cursor.execute(_statement(recorder, _AFTER), [after, end, limit], prepare=True)
        rows: list[StoredRow] = cursor.fetchall()
        return rows
    if isinstance(recorder, SQLiteApplicationRecorder) and _same_file(recorder, tx.store):
        found = tx.connection.execute(
            "SELECT rowid, originator_id, originator_version, topic, state"
            f" FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ?"
            " ORDER BY rowid LIMIT ?",
            (after, end, limit),
        ).fetchall()
        return [(p, _hyphenated(o), v, t, s) for p, o, v, t, s in found]
    return list(read_stored(app, after=after, limit=limit, stop=stop))


def head_in(app: Application[UUID], tx: Tx) -> int:
    """The log's last position as `tx` sees it (0 when empty): the end of a snapshot's log."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        found = tx.execute(_statement(recorder, "SELECT max(notification_id) FROM {}"))
        return int(found[0][0] or 0)
    if isinstance(recorder, SQLiteApplicationRecorder) and _same_file(recorder, tx.store):
        found = tx.execute(f"SELECT max(rowid) FROM {recorder.events_table_name}")
        return int(found[0][0] or 0)
    return head(app)


def _same_file(recorder: SQLiteApplicationRecorder, store: Store) -> bool:
    ours = recorder.datastore.pool.db_name
    return not store.postgres and Path(ours).resolve() == Path(store.target).resolve()


def _hyphenated(stored_id: Any) -> str:
    """SQLite keeps an id as 32 hex digits; the log's readers see the hyphenated form."""
    text = str(stored_id)
    if len(text) == 32 and text.islower():
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return str(UUID(text))


def iter_stored(
    app: Application[UUID],
    *,
    after: int = 0,
    stop: int | None = None,
    topics: Sequence[str] = (),
    batch: int = READ_BATCH,
) -> Iterator[Recorded]:
    """Every stored event after position `after` (up to `stop`), in batches of `batch`."""
    while True:
        found = read_stored(app, after=after, limit=batch, stop=stop, topics=topics)
        yield from found
        if len(found) < batch:
            return
        after = found[-1].position


def iter_events(
    app: Application[UUID],
    *,
    after: int = 0,
    stop: int | None = None,
    topics: Sequence[str] = (),
    batch: int = READ_BATCH,
) -> Iterator[tuple[int, Any]]:
    """Every event after position `after` as the library's domain event, with its position."""
    mapper = app.mapper
    for r in iter_stored(app, after=after, stop=stop, topics=topics, batch=batch):
        stored = Stored(r.position, UUID(r.originator_id), r.version, r.topic, r.state)
        yield r.position, to_domain_event(mapper, stored)


def domain_event(app: Application[UUID], recorded: Recorded) -> Logged:
    """One stored event, fully decoded by the library's mapper."""
    stored = Stored(
        recorded.position,
        UUID(recorded.originator_id),
        recorded.version,
        recorded.topic,
        recorded.state,
    )
    event = to_domain_event(app.mapper, stored)
    return Logged(recorded.position, recorded.topic, event, recorded.originator_id)


def events_of(
    app: Application[UUID],
    originator_ids: Sequence[str],
    *,
    upto: int | None = None,
    via: Store | None = None,
) -> list[Recorded]:
    """Every stored event of these aggregates (up to position `upto`), in position order.

    `via`: a store on the same PostgreSQL database whose reader pool runs the query (the audit
    store's), so that auditors' look-ups never take the event store's connections, which the
    writers need (ledger/engine/connections.py budgets them apart)."""
    if not originator_ids:
        return []
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        on = via if via is not None and via.postgres else None
        found = [Recorded(*row) for row in _postgres(recorder, _OF, [list(originator_ids)], on)]
    elif isinstance(recorder, SQLiteApplicationRecorder):
        found = _sqlite_events_of(recorder, originator_ids)
    else:  # in memory: scan the log
        wanted = set(originator_ids)
        return [r for r in iter_stored(app, stop=upto) if r.originator_id in wanted]
    return found if upto is None else [r for r in found if r.position <= upto]


def events_table(app: Application[UUID]) -> str:
    """The events table's name as SQL (schema-qualified on PostgreSQL): for tests that damage
    the log on purpose, and operators' queries."""
    recorder: Any = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        schema, table = recorder.datastore.schema, recorder.events_table_name
        return sql.Identifier(schema, table).as_string(None)
    return f'"{recorder.events_table_name}"'


def events_table_name(app_name: str) -> str:
    """The events table the library creates on PostgreSQL for an application of this name."""
    return f"{app_name.lower()}_events"


# --- PostgreSQL: the library's statements, narrowed to the columns we use ----------------------

_RANGE = (
    f"SELECT {_COLUMNS} FROM {{}} WHERE notification_id > %s AND notification_id <= %s"
    " AND topic = ANY(%s) ORDER BY notification_id"
)
_AFTER = (
    f"SELECT {_COLUMNS} FROM {{}} WHERE notification_id > %s AND notification_id <= %s"
    " ORDER BY notification_id LIMIT %s"
)
_AFTER_TOPICS = (
    f"SELECT {_COLUMNS} FROM {{}} WHERE notification_id > %s AND notification_id <= %s"
    " AND topic = ANY(%s) ORDER BY notification_id LIMIT %s"
)
_OF = f"SELECT {_COLUMNS} FROM {{}} WHERE originator_id = ANY(%s::uuid[]) ORDER BY notification_id"
_STATEMENTS: dict[tuple[str, str, str], str] = {}


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _postgres(
    recorder: PostgresApplicationRecorder,
    template: str,
    params: list[Any],
    via: Store | None = None,
) -> list[tuple[Any, ...]]:
    """Plain tuples in binary, the originator's id as text (what the read models store),
    retried like the library's own reads; on the event store's connections unless `via`."""
    statement = _statement(recorder, template)
    if via is not None:
        with via.read() as tx:
            cursor = tx.connection.cursor(binary=True, row_factory=tuple_row)
            cursor.execute(statement, params, prepare=True)
            return list(cursor.fetchall())
    with recorder.datastore.get_connection() as connection:
        cursor = connection.cursor(binary=True, row_factory=tuple_row)
        cursor.execute(statement, params, prepare=True)
        return cursor.fetchall()


def _statement(recorder: PostgresApplicationRecorder, template: str) -> str:
    where = (recorder.datastore.schema, recorder.events_table_name, template)
    statement = _STATEMENTS.get(where)
    if statement is None:
        table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        statement = _STATEMENTS[where] = sql.SQL(template).format(table).as_string(None)
    return statement


def _from_rows(app: Application[UUID], rows: list[tuple[Any, ...]]) -> list[Logged]:
    """Rows of `_RANGE` -> events, in one pass with no object per row but the event (the hot
    loop of a rebuild)."""
    mapper = app.mapper
    if mapper.cipher is not None or mapper.compressor is not None:
        decode = decoder(app)
        return [Logged(i, t, decode(Stored(i, UUID(o), v, t, s)), o) for i, o, v, t, s in rows]
    transcoder, events = mapper.transcoder, []
    for i, o, v, t, s in rows:
        fields = loads(s)
        if "class_version" in fields:  # needs upcasting: the full domain event
            event = to_domain_event(mapper, Stored(i, UUID(o), v, t, s))
        else:
            event = RawEvent(fields, transcoder)
        events.append(Logged(i, t, event, o))
    return events


# --- SQLite: the notification id is the table's rowid, ids are stored as hex ------------------


def _sqlite_events_of(
    recorder: SQLiteApplicationRecorder, originator_ids: Sequence[str]
) -> list[Recorded]:
    keys = [s.replace("-", "") for s in originator_ids]
    found: list[Recorded] = []
    with recorder.datastore.transaction(commit=False) as cursor:
        for start in range(0, len(keys), SQLITE_IN_CHUNK):
            chunk = keys[start : start + SQLITE_IN_CHUNK]
            cursor.execute(
                "SELECT rowid, originator_id, originator_version, topic, state"
                f" FROM {recorder.events_table_name} WHERE originator_id IN"
                f" ({', '.join('?' for _ in chunk)}) ORDER BY rowid",
                chunk,
            )
            found += [
                Recorded(p, str(UUID(str(o))), v, t, bytes(s))
                for p, o, v, t, s in cursor.fetchall()
            ]
    return sorted(found) if len(keys) > SQLITE_IN_CHUNK else found
