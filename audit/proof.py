"""Where events sit in the audited history: receipts for payments, and time → log position.

A receipt lists the payment's events with their positions, their event hashes recomputed from
the log, the chain hash recorded at each, and the first signed checkpoint at or after the
newest of them. With an export (or the event feed) up to that checkpoint, anyone can recompute
the chain from the event to the checkpoint and check the signature: the payment is then part
of the history the service signed.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit import merkle, receipt_code
from audit.encoding import canonical, event_hash, timestamp_of, utc_text
from audit.signing import as_record
from audit.store import AuditStore
from audit.tiles import perfect_from
from storage.log import Recorded, events_of, iter_stored

SCAN_BATCH = 1000


def receipt(app: Application[UUID], store: AuditStore, aggregate_id: UUID) -> dict[str, Any] | None:
    """The chain entries of an aggregate's events (a payment's), or None if it has none."""
    events = events_of(app, [str(aggregate_id)], via=store)
    if not events:
        return None
    entries = []
    for raw in events:
        stamp = timestamp_of(raw.state)
        digest = event_hash(raw.originator_id, raw.version, raw.topic, stamp, raw.state)
        row = store.chain_row(raw.position)
        entries.append(
            {
                "position": raw.position,
                "version": raw.version,
                "topic": raw.topic,
                "timestamp": stamp,
                "event_hash": digest.hex(),
                "seq": row.seq if row else None,
                "chain_hash": row.chain_hash.hex() if row else None,
                "matches_chain": row is not None and row.event_hash == digest,
            }
        )
    newest = entries[-1]
    later = store.checkpoints(at_or_after=events[-1].position)
    checkpoint = as_record(later[0]) if later else None
    if newest["chain_hash"] is None:
        status = "pending"  # not chained yet
    elif checkpoint is None:
        status = "chained"  # chained, not yet covered by a signed checkpoint
    else:
        status = "sealed"
    return {
        "position": newest["position"],
        "chain_hash": newest["chain_hash"],
        "status": status,
        "events": entries,
        "checkpoint": checkpoint,
        "tlog": tlog_receipt(store, events),
    }


def tlog_receipt(store: AuditStore, events: list[Recorded]) -> dict[str, Any] | None:
    """The events as entries of the transparency log, each with its leaf index and inclusion
    proof in the first signed tree checkpoint that covers them all (None until there is one):
    everything `docs/verify_receipt.py` needs offline, with the log's key."""
    rows = [store.chain_row(e.position) for e in events]
    if not rows or any(row is None for row in rows):
        return None
    newest = max(row.seq for row in rows if row is not None)
    found = store.notes(at_or_after=newest, limit=1)
    if not found:
        return None
    size, note = found[0]
    perfect = perfect_from(store)
    entries = []
    for event, row in zip(events, rows, strict=True):
        assert row is not None  # checked above
        entry = canonical(
            event.originator_id, event.version, event.topic, row.timestamp, event.state
        )
        proof = merkle.inclusion_proof(row.seq - 1, size, perfect)
        entries.append(
            {
                "index": row.seq - 1,
                "entry": base64.b64encode(entry).decode(),
                "proof": [base64.b64encode(h).decode() for h in proof],
            }
        )
    return {"format": "kvit.receipt.v1", "size": size, "checkpoint": note, "entries": entries}


def receipt_code_of(app: Application[UUID], store: AuditStore, payment_id: UUID) -> str | None:
    """The payment's receipt code (audit/receipt_code.py), None until a signed checkpoint
    covers its events."""
    found = receipt(app, store, payment_id)
    tlog = found["tlog"] if found else None
    return receipt_code.code(tlog) if tlog else None


def position_at(app: Application[UUID], store: AuditStore | None, moment: datetime) -> int:
    """The end of the longest log prefix whose events all happened at or before `moment`.

    A prefix (not "every event stamped before") because a prefix of the log is a state that
    existed; an event stamped earlier but committed after a later-stamped one had not been
    committed by then either. Chained events are looked up in the chain table's timestamps;
    any tail not chained yet is scanned."""
    text = utc_text(moment)
    after = 0
    if store is not None:
        first_later = store.position_after_time(text)
        if first_later is not None:
            return store.last_position_before(first_later)
        head = store.head()
        after = head.position if head else 0
    for event in iter_stored(app, after=after, batch=SCAN_BATCH):
        if timestamp_of(event.state) > text:
            return after
        after = event.position
    return after
