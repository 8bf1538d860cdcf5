"""Tracking: how far each read model has applied the log, updated in the same transaction as
its rows. The update is a compare-and-set, so two writers of one read model cannot both apply
the same events: the second one's transaction fails and rolls back."""

from __future__ import annotations

from collections.abc import Iterable

from projections.tables import TRACKING
from storage.sql import Tx


class TrackingConflictError(RuntimeError):
    """The read model moved under us (another runner, or a rebuild was swapped in)."""

    def __init__(self, projection: str, expected: int) -> None:
        super().__init__(
            f"projection {projection} is no longer at position {expected}: another runner or a "
            "rebuild changed it; this batch was rolled back"
        )
        self.projection = projection
        self.expected = expected


def read_positions(tx: Tx, names: Iterable[str]) -> dict[str, int]:
    wanted = list(names)
    rows = tx.fetch(TRACKING, ("projection", "position"), "projection", wanted)
    found = {name: position for name, position in rows}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise LookupError(
            f"no tracking row for {', '.join(missing)}: run `kvit projections migrate` first"
        )
    return found


def read_tracking(tx: Tx) -> dict[str, tuple[int, int]]:
    rows = tx.execute(f"SELECT projection, position, events FROM {tx.store.name(TRACKING)}")
    return {name: (position, events) for name, position, events in rows}


def hold(tx: Tx, expected: dict[str, int]) -> None:
    """Lock these read models' tracking rows for this transaction, first thing, and check they
    are where we think: a rebuild's swap locks them too, so the two never deadlock (the rows
    are locked in name order, one statement for all of them)."""
    names = sorted(expected)
    table = tx.store.name(TRACKING)
    if tx.postgres:
        rows = tx.execute(
            f"SELECT projection, position FROM {table} WHERE projection = ANY(%s)"
            " ORDER BY projection FOR UPDATE",
            [names],
        )
    else:
        rows = tx.fetch(TRACKING, ("projection", "position"), "projection", names)
    found: dict[str, int] = {name: position for name, position in rows}
    for name in names:
        if found.get(name) != expected[name]:
            raise TrackingConflictError(name, expected[name])


def advance(tx: Tx, moves: dict[str, tuple[int, int, int]]) -> None:
    """Move each read model named in `moves` from `expected` to `position`, counting the
    `events` it applied (`moves[name] = (expected, position, events)`); one statement for all
    of them on PostgreSQL, a compare-and-set either way."""
    table = tx.store.name(TRACKING)
    names = sorted(moves)
    if not tx.postgres:
        for name in names:
            expected, position, events = moves[name]
            tx.execute(
                f"UPDATE {table} SET position = %s, events = events + %s"
                " WHERE projection = %s AND position = %s",
                [position, events, name, expected],
            )
            if tx.rowcount != 1:
                raise TrackingConflictError(name, expected)
        return
    tx.execute(
        f"UPDATE {table} AS t SET position = m.position, events = t.events + m.events"
        " FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[])"
        " AS m(projection, expected, position, events)"
        " WHERE t.projection = m.projection AND t.position = m.expected",
        [names, *([moves[n][i] for n in names] for i in range(3))],
    )
    if tx.rowcount != len(names):
        now = read_positions(tx, names)
        name = next(n for n in names if now[n] != moves[n][1])
        raise TrackingConflictError(name, moves[name][0])


def reset(tx: Tx, name: str, position: int, events: int) -> None:
    """Set a read model's position outright (after a rebuild is swapped in)."""
    tx.execute(
        f"UPDATE {tx.store.name(TRACKING)} SET position = %s, events = %s WHERE projection = %s",
        [position, events, name],
    )
