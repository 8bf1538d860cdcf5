"""`kvit audit export` and the auditors' event feed: the log as JSON Lines.

One line per position, in position order:

    {"position": 17, "id": "<uuid>", "version": 3, "topic": "kvit.wallet.credited",
     "timestamp": "2026-03-05T10:00:00.123456Z", "state": "<base64 of the stored bytes>",
     "event": {…decoded fields…}, "seq": 15, "event_hash": "<hex>", "chain_hash": "<hex>"}

`seq`, `event_hash`, `chain_hash` and `chain_timestamp` are what the chain table *recorded*
for that position
(null for events not chained yet). A position the chain recorded but whose event is gone is
exported as a line with `"event": null` and no state, so an export of a damaged log shows the
damage instead of hiding it. `docs/verify_export.py` recomputes everything from `state`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit.encoding import decode_state, plain, timestamp_of
from audit.signing import as_record, write_checkpoint
from audit.store import AuditStore, ChainRow
from storage.log import Recorded, read_stored

MAX_PAGE = 1000
EXPORT_BATCH = 5000


@dataclass(frozen=True)
class Page:
    lines: list[dict[str, Any]]
    next_after: int
    """Pass as `after` for the next page."""
    done: bool
    """The page reached the end of the log (and of the chain)."""


def _recorded(row: ChainRow | None) -> dict[str, Any]:
    if row is None:
        return {"seq": None, "event_hash": None, "chain_hash": None, "chain_timestamp": None}
    return {
        "seq": row.seq,
        "event_hash": row.event_hash.hex(),
        "chain_hash": row.chain_hash.hex(),
        "chain_timestamp": row.timestamp,
    }


def event_line(event: Recorded, row: ChainRow | None) -> dict[str, Any]:
    state = event.state
    try:
        decoded: Any = plain(decode_state(state))
    except (ValueError, UnicodeDecodeError):
        decoded = None
    return {
        "position": event.position,
        "id": event.originator_id,
        "version": event.version,
        "topic": event.topic,
        "timestamp": timestamp_of(state),
        "state": base64.b64encode(state).decode("ascii"),
        "event": decoded,
        **_recorded(row),
    }


def missing_line(row: ChainRow) -> dict[str, Any]:
    return {"position": row.position, "event": None, "missing": True, **_recorded(row)}


def page(app: Application[UUID], store: AuditStore, *, after: int, limit: int) -> Page:
    """Up to `limit` events after position `after`, with the chain rows of their range."""
    events = read_stored(app, after=after, limit=limit)
    done = len(events) < limit
    stop = None if done else events[-1].position
    rows = {r.position: r for r in store.chain_rows(after=after, limit=10 * limit + 100, stop=stop)}
    lines = [event_line(e, rows.pop(e.position, None)) for e in events]
    lines += [missing_line(r) for r in rows.values()]
    lines.sort(key=lambda line: line["position"])
    next_after = lines[-1]["position"] if lines else after
    return Page(lines, next_after, done)


@dataclass(frozen=True)
class Exported:
    events: int
    missing: int
    checkpoint: dict[str, Any] | None


def export(
    app: Application[UUID],
    store: AuditStore,
    directory: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> Exported:
    """Write `events.jsonl`, `checkpoints.jsonl` and `checkpoint.json` (the latest) into
    `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    checkpoints = [as_record(c) for c in store.checkpoints()]
    events = missing = 0
    after = 0
    with (directory / "events.jsonl").open("w", encoding="utf-8") as out:
        while True:
            got = page(app, store, after=after, limit=EXPORT_BATCH)
            for line in got.lines:
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                if line["event"] is None and line.get("missing"):
                    missing += 1
                else:
                    events += 1
            after = got.next_after
            if progress is not None:
                progress(after)
            if got.done:
                break
    with (directory / "checkpoints.jsonl").open("w") as out:
        for checkpoint in checkpoints:
            out.write(json.dumps(checkpoint, separators=(",", ":")) + "\n")
    latest = checkpoints[-1] if checkpoints else None
    if latest is not None:
        write_checkpoint(directory / "checkpoint.json", latest)
    return Exported(events, missing, latest)
