"""`kvit audit export` and the auditors' event feed: the log as JSON Lines, with its checkpoints.

An export (format `kvit.export`, version 2; docs/auditing.md has the whole of it) is a directory:

    events.jsonl            one line per log position (below)
    checkpoints.jsonl       the hash chain's signed checkpoints (JSON); checkpoint.json: the latest
    tree-checkpoints.jsonl  the tree's signed checkpoints (C2SP signed notes), by size, each with
                            the RFC 9162 consistency proof from the one before it
    checkpoint              the latest signed note, as `/log/checkpoint` serves it
    manifest.json           the format and version, the log's origin and key, what was written

Version 1 had only the first three files. The checkpoints are read before the events, so every
one of them is within the events exported. Each line of events.jsonl:

    {"position": 17, "id": "<uuid>", "version": 3, "topic": "kvit.wallet.credited",
     "timestamp": "2026-03-05T10:00:00.123456Z", "state": "<base64 of the stored bytes>",
     "event": {…decoded fields…}, "seq": 15, "event_hash": "<hex>", "chain_hash": "<hex>"}

`seq`, `event_hash`, `chain_hash` and `chain_timestamp` are what the chain table *recorded*
for that position
(null for events not chained yet). A position the chain recorded but whose event is gone is
exported as a line with `"event": null` and no state, so an export of a damaged log shows the
damage instead of hiding it. The events that are there, in order, are the tree's leaves:
`docs/verify_export.py` recomputes the chain and the tree from `state` alone.
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

from audit import merkle
from audit.encoding import MAGIC, decode_state, plain, timestamp_of
from audit.signing import as_record, write_checkpoint
from audit.store import AuditStore, ChainRow
from audit.tiles import TileNotFoundError, perfect_from
from storage.log import Recorded, read_stored

MAX_PAGE = 1000
EXPORT_BATCH = 5000
FORMAT, VERSION = "kvit.export", 2
MAX_NOTES = 1_000_000


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
    except (ValueError, UnicodeDecodeError, RecursionError):
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
    tree_checkpoints: int = 0
    tree_size: int | None = None
    """The size of the latest signed tree checkpoint (None: there is none)."""


def tree_checkpoints(store: AuditStore) -> list[dict[str, Any]]:
    """The signed notes by size, each after the first with the consistency proof from the one
    before it (null if the stored tree cannot give it: a damaged tree is exported, not fixed)."""
    notes = store.notes(limit=MAX_NOTES)
    perfect = perfect_from(store)
    lines: list[dict[str, Any]] = []
    for i, (size, text) in enumerate(notes):
        line: dict[str, Any] = {"size": size, "note": text}
        if i:
            first = notes[i - 1][0]
            try:
                proof = merkle.consistency_proof(first, size, perfect)
                encoded: list[str] | None = [base64.b64encode(h).decode() for h in proof]
            except (TileNotFoundError, ValueError):
                encoded = None
            line["consistency"] = {"from": first, "proof": encoded}
        lines.append(line)
    return lines


def manifest(
    done: Exported, last_position: int, notes: list[dict[str, Any]], log_key: str | None
) -> dict[str, Any]:
    origin = log_key.split("+", 1)[0] if log_key else None
    if origin is None and notes:
        origin = notes[-1]["note"].split("\n", 1)[0]
    return {
        "format": FORMAT,
        "version": VERSION,
        "entry_format": MAGIC.decode().strip(),
        "origin": origin,
        "log_key": log_key,
        "events": done.events,
        "missing": done.missing,
        "last_position": last_position,
        "tree_checkpoints": len(notes),
        "tree_size": notes[-1]["size"] if notes else None,
    }


def _write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def export(
    app: Application[UUID],
    store: AuditStore,
    directory: Path,
    *,
    log_key: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Exported:
    """Write the export's files (above) into `directory`. `log_key`: the log's note verifier
    key, carried in the manifest for convenience (an auditor pins the one they trust)."""
    directory.mkdir(parents=True, exist_ok=True)
    checkpoints = [as_record(c) for c in store.checkpoints()]
    notes = tree_checkpoints(store)
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
    _write_lines(directory / "checkpoints.jsonl", checkpoints)
    latest = checkpoints[-1] if checkpoints else None
    if latest is not None:
        write_checkpoint(directory / "checkpoint.json", latest)
    _write_lines(directory / "tree-checkpoints.jsonl", notes)
    if notes:
        (directory / "checkpoint").write_bytes(notes[-1]["note"].encode())
    done = Exported(events, missing, latest, len(notes), notes[-1]["size"] if notes else None)
    text = json.dumps(manifest(done, after, notes, log_key), ensure_ascii=False, indent=2)
    (directory / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return done
