"""`kvit audit verify`: walk the whole log against the chain table and the signed checkpoints.

The log and the chain table are walked side by side in position order:

- a position in both whose event hashes differ: `modified` (or `moved` when that event's hash
  is recorded at another position: events swapped or reordered);
- a chained position with no event: `deleted`; an event at a position the chain skipped while
  it passed by: `inserted`. (Events after the chain's head are only "not chained yet".)
- a chain row that does not follow from the one before (hash or count), or whose timestamp
  is not the event's: `chain_broken` — the chain table itself was edited;
- each checkpoint whose signature is good is compared with the chain recomputed from the log
  alone: a different hash or count is `checkpoint_mismatch` (history was rewritten together
  with the chain table), fewer events and a log that ends before it is `truncated` (the newest
  events were deleted); a bad signature or an untrusted key is `bad_signature`;
- an event whose fields the entry format cannot hold (a negative version, a topic over
  65,535 bytes: Kvit never writes one) is `malformed`; it is no leaf and no link of the
  recomputed chain;
- the Merkle tree (audit/merkle.py) is recomputed from the log as it is walked, and each
  signed tree checkpoint (a C2SP note) is compared with its root at the checkpoint's size:
  `tree_mismatch` (at the first finding before it, or after the last good one), `truncated`
  when the log ends before its size. Roots that all match the one recomputed tree are
  consistent with each other, so no consistency proof is needed here;
- the stored tree (what tiles and proofs are served from) is compared with the recomputed one,
  every leaf and every node at heights 8, 16, …: `tree_broken` at the first leaf where it
  differs, unless a finding before it already explains why.

The log, the chain and the stored tree are read in one snapshot (audit/scan.py). A batch whose
events all hash to what their chain rows recorded is checked in bulk (audit/bulk_check.py);
any other batch is walked position by position by the rules above (audit/walk.py).

Findings are listed by position; the first is where the log first differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit.note import NoteError, Verifier, open_checkpoint
from audit.report import Finding, VerifyReport
from audit.scan import Scan
from audit.signing import signature_ok
from audit.store import AuditStore
from audit.walk import Walk
from storage.log import head as log_head_of

__all__ = ["BATCH", "Finding", "Progress", "VerifyReport", "verify"]
BATCH = 5000
Progress = Callable[[int, int], None]
"""(position reached, log head) after each batch."""


def verify(
    app: Application[UUID],
    store: AuditStore,
    *,
    checkpoints: Sequence[dict[str, Any]] = (),
    public_key: str | None,
    notes: Sequence[str] = (),
    verifier: Verifier | None = None,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport()
    log_head = log_head_of(app)
    roots = _trusted_roots(notes, verifier, report)
    trusted = _trusted(checkpoints, public_key, report)
    kept = store.has_tables()
    with store.read() as tx:
        head = store.head(tx) if kept else None
        report.chain_head = head.position if head else 0
        with Scan(app, store, tx, batch, kept=kept) as scan:
            walk = Walk(scan, report, trusted, roots)
            for part in scan:
                walk.batch(part)
                if progress is not None:
                    progress(report.last_position, log_head)
        walk.compare_nodes(store.stored_nodes(tx) if kept else {})
    walk.settle(0, end=True)
    walk.settle_end()
    report.tree_size = walk.tree.size
    report.findings = sorted(report.findings + walk.found, key=lambda f: f.position)
    report.seconds = time.perf_counter() - started
    if progress is not None:
        progress(report.last_position, log_head)
    return report


def _trusted(
    checkpoints: Sequence[dict[str, Any]], public_key: str | None, report: VerifyReport
) -> list[dict[str, Any]]:
    """The checkpoints whose signature is good; a finding for each of the others."""
    good = []
    unique = {(str(c.get("position")), str(c.get("signature"))): c for c in checkpoints}
    for checkpoint in unique.values():  # the same checkpoint from the table and from a file
        if public_key is not None and signature_ok(checkpoint, public_key):
            good.append(checkpoint)
        else:
            why = "no trusted public key" if public_key is None else "bad signature or key"
            report.findings.append(
                Finding(
                    "bad_signature",
                    int(checkpoint.get("position", 0)),
                    f"checkpoint at position {checkpoint.get('position')}: {why}",
                )
            )
    return good


def _trusted_roots(
    notes: Sequence[str], verifier: Verifier | None, report: VerifyReport
) -> list[tuple[int, bytes]]:
    """(size, root) of each signed tree checkpoint that verifies; a finding for the others."""
    roots = set()
    for text in notes:
        if verifier is None:
            report.findings.append(Finding("bad_signature", 0, "no trusted log key for a note"))
            continue
        try:
            checkpoint, _ = open_checkpoint(text, verifier)
        except NoteError as error:
            report.findings.append(Finding("bad_signature", 0, f"tree checkpoint: {error}"))
            continue
        roots.add((checkpoint.size, checkpoint.root))
    return sorted(roots)
