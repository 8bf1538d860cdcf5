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
any other batch is walked position by position by the rules above.

Findings are listed by position; the first is where the log first differs.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit import bulk_check
from audit.encoding import GENESIS, canonical, chain_hash, timestamp_of
from audit.note import NoteError, Verifier, open_checkpoint
from audit.scan import Batch, Scan
from audit.signing import signature_ok
from audit.store import AuditStore, ChainRow
from audit.tile_tree import HEIGHT, Node, TileTree
from storage.log import Recorded
from storage.log import head as log_head_of

BATCH = 5000
MAX_FINDINGS = 100
MAX_LOOKUPS = 20
Progress = Callable[[int, int], None]
"""(position reached, log head) after each batch."""


@dataclass(frozen=True)
class Finding:
    kind: str
    position: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "position": self.position, "detail": self.detail}


@dataclass
class VerifyReport:
    events: int = 0
    """Stored events walked."""
    last_position: int = 0
    chain_head: int = 0
    """The last chained position (0: the chain was never started)."""
    unchained: int = 0
    """Events after the chain's head, not chained yet (not a finding)."""
    checkpoints: int = 0
    """Checkpoints with a good signature compared with the log."""
    tree_size: int = 0
    """Leaves of the Merkle tree recomputed from the log."""
    tree_checkpoints: int = 0
    """Signed tree checkpoints (notes) compared with the recomputed tree."""
    bulk: int = 0
    """Events checked in bulk (the rest were walked one by one: findings, or not chained)."""
    workers: int = 0
    """Processes that hashed beside this one (0: this one alone)."""
    findings: list[Finding] = field(default_factory=list)
    more_findings: bool = False
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Walk:
    def __init__(
        self,
        scan: Scan,
        report: VerifyReport,
        checkpoints: list[dict[str, Any]],
        roots: list[tuple[int, bytes]],
    ):
        self.scan, self.report = scan, report
        self.tree = TileTree()
        self.leaves: list[bytes] = []
        """Leaf hashes of the batch being walked, for the stored tree's."""
        self.nodes: list[Node] = []
        self.tile_starts: dict[int, int] = {}
        """Leaf index (a multiple of 256) -> its position: where a node's subtree starts."""
        self.roots = sorted(roots)
        self.good_size_position = 0
        self.pending = sorted(checkpoints, key=lambda c: int(c["position"]))
        self.running, self.count = GENESIS, 0
        self.recorded, self.recorded_seq = GENESIS, 0
        self.good_position = 0  # the last checkpoint the log agreed with
        self.lookups = 0
        self.found: list[Finding] = []

    def find(self, kind: str, position: int, detail: str) -> None:
        if len(self.found) < MAX_FINDINGS:
            self.found.append(Finding(kind, position, detail))
        else:
            self.report.more_findings = True

    def settle(self, before: int, *, end: bool = False) -> None:
        """Compare every checkpoint below `before` with the chain recomputed from the log."""
        while self.pending and (end or int(self.pending[0]["position"]) < before):
            checkpoint = self.pending.pop(0)
            position, count = int(checkpoint["position"]), int(checkpoint["count"])
            self.report.checkpoints += 1
            if self.running.hex() == checkpoint["chain_hash"] and self.count == count:
                self.good_position = position
                continue
            last = self.report.last_position
            if self.count < count and last < position:
                self.find(
                    "truncated",
                    last + 1,
                    f"the log ends at position {last} with {self.count} events, but the"
                    f" checkpoint signed at position {position} holds {count}:"
                    f" {count - self.count} newest events were deleted",
                )
            else:
                inside = [f.position for f in self.found if self.good_position < f.position]
                explained = any(p <= position for p in inside)
                cause = (
                    "see the findings before it"
                    if explained
                    else f"history after position {self.good_position} was rewritten, and the"
                    " chain table with it"
                )
                self.find(
                    "checkpoint_mismatch",
                    min(inside) if explained else self.good_position + 1,
                    f"the log up to position {position} does not match the checkpoint signed"
                    f" there ({self.count} events vs {count}, chain {self.running.hex()[:16]}…"
                    f" vs {checkpoint['chain_hash'][:16]}…): {cause}",
                )

    def settle_roots(self, position: int) -> None:
        """Compare the signed tree roots of the tree's size so far with the recomputed one."""
        while self.roots and self.roots[0][0] <= self.tree.size:
            size, signed = self.roots.pop(0)
            self.report.tree_checkpoints += 1
            if size == self.tree.size and self.tree.root() == signed:
                self.good_size_position = position
                continue
            inside = [f.position for f in self.found if self.good_size_position < f.position]
            self.find(
                "tree_mismatch",
                min(inside) if inside else self.good_size_position + 1,
                f"the tree of the log's first {size} events does not have the root signed"
                " for that size: history before it was rewritten",
            )

    def settle_end(self) -> None:
        for size, _ in self.roots:
            self.report.tree_checkpoints += 1
            self.find(
                "truncated",
                self.report.last_position + 1,
                f"the log holds {self.tree.size} events, but a tree checkpoint was signed at"
                f" size {size}: {size - self.tree.size} newest events were deleted",
            )
        self.roots = []

    def compare(self, position: int, digest: bytes, row: ChainRow) -> None:
        if digest == row.event_hash:
            return
        elsewhere: list[int] = []
        if self.lookups < MAX_LOOKUPS:
            self.lookups += 1
            elsewhere = [p for p in self.scan.positions_of_hash(digest) if p != position]
        if elsewhere:
            self.find(
                "moved",
                position,
                f"the event at position {position} was recorded at position {elsewhere[0]}:"
                " events were swapped or reordered",
            )
        else:
            self.find(
                "modified",
                position,
                f"the event at position {position} is not the one recorded there",
            )

    def event(self, event: Recorded, here: ChainRow | None) -> None:
        """One stored event: into the recomputed chain, and against its chain row if any."""
        position, report = event.position, self.report
        stamp = timestamp_of(event.state)
        entry = canonical(event.originator_id, event.version, event.topic, stamp, event.state)
        digest = sha256(entry).digest()
        self.add_leaves([sha256(b"\x00" + entry).digest()], [position])
        if self.roots and self.roots[0][0] <= self.tree.size:
            self.settle_roots(position)
        self.running, self.count = chain_hash(self.running, digest), self.count + 1
        report.events, report.last_position = report.events + 1, position
        if here is not None:
            self.compare(position, digest, here)
            if digest == here.event_hash and stamp != here.timestamp:
                self.find("chain_broken", position, "the chain table's timestamp was changed")
        elif position <= report.chain_head:
            self.find(
                "inserted",
                position,
                f"an event at position {position}, which the chain passed without one",
            )
        else:
            report.unchained += 1

    def add_leaves(self, leaves: list[bytes], positions: Sequence[int]) -> None:
        size = self.tree.size
        for leaf in range(-size % (1 << HEIGHT), len(leaves), 1 << HEIGHT):
            self.tile_starts[size + leaf] = positions[leaf]
        self.leaves += leaves
        self.nodes += self.tree.extend(leaves)

    def batch(self, batch: Batch) -> None:
        """One batch of the log: in bulk if it agrees with its chain rows (and follows the
        chain so far), else one by one."""
        leaves, agreed = None, self.running == self.recorded and self.count == self.recorded_seq
        checked, here = batch.checked, (self.running, self.count)
        if checked is not None and agreed and (checked.running, checked.seq) == here:
            leaves = checked.leaves  # by a worker, from the chain row before the batch
        elif batch.by_worker:  # not taken in bulk: read again for the walk one by one
            batch = self.scan.raw(batch.after, batch.stop, self.tree.size)
        elif agreed:
            leaves = bulk_check.check(batch.events, batch.chain, self.running, self.count)
        if leaves is not None:
            self.bulk(batch, leaves)
        else:
            rows = self.scan.chain_rows(batch)
            _side_by_side(self, [Recorded(*e) for e in batch.events], rows)
        walked = batch.chain.positions if leaves is not None else [e[0] for e in batch.events]
        self.compare_stored(batch, walked)

    def bulk(self, batch: Batch, leaves: list[bytes]) -> None:
        """Take in a batch that agrees with its chain rows, settling each checkpoint (of either
        kind) where the walk one by one would have."""
        positions, k = batch.chain.positions, 0
        n = len(positions)
        while k < n:
            self.settle(positions[k])
            j = n
            if self.pending:
                j = min(j, bisect_right(positions, int(self.pending[0]["position"]), k))
            if self.roots:
                j = min(j, k + self.roots[0][0] - self.tree.size)
            j = max(j, k + 1)
            self.add_leaves(leaves[k:j], positions[k:j])
            self.running = self.recorded = batch.chain.chain_hashes[32 * (j - 1) : 32 * j]
            self.count, self.recorded_seq = self.count + j - k, self.recorded_seq + j - k
            self.report.events += j - k
            self.report.last_position = positions[j - 1]
            if self.roots and self.roots[0][0] <= self.tree.size:
                self.settle_roots(positions[j - 1])
            k = j
        self.report.bulk += n

    def compare_stored(self, batch: Batch, positions: list[int]) -> None:
        """The stored leaves of this batch's events (at `positions`) against the ones
        recomputed."""
        mine, stored, self.leaves = b"".join(self.leaves), batch.stored_leaves, []
        if stored == mine[: len(stored)]:
            return
        at = next(i for i in range(0, len(stored), 32) if stored[i : i + 32] != mine[i : i + 32])
        leaf = batch.first_leaf + at // 32
        self.tree_broken(positions[at // 32], f"the stored tree's leaf {leaf}")

    def compare_nodes(self, stored: dict[tuple[int, int], bytes]) -> None:
        """The stored nodes above the leaves against the ones recomputed."""
        wrong = [
            (index << height, height, index)
            for height, index, node in self.nodes
            if stored.get((height, index), node) != node
        ]
        if wrong:
            leaf, height, index = min(wrong)
            position = self.tile_starts.get(leaf, self.report.last_position)
            self.tree_broken(position, f"the stored tree's node {index} at height {height}")

    def tree_broken(self, position: int, what: str) -> None:
        if any(f.position <= position or f.kind == "tree_broken" for f in self.found):
            return  # a change to the log before it is why
        self.find(
            "tree_broken",
            position,
            f"{what} is not what the log gives from position {position} on: the stored tree"
            " (what tiles and proofs are served from) was changed",
        )

    def row(self, row: ChainRow, *, has_event: bool) -> None:
        """One chain row: does it follow from the one before, and is its event still there."""
        self.check_row(row)
        if not has_event:
            self.find(
                "deleted", row.position, f"the event recorded at position {row.position} is gone"
            )

    def check_row(self, row: ChainRow) -> None:
        if row.seq != self.recorded_seq + 1 or chain_hash(self.recorded, row.event_hash) != (
            row.chain_hash
        ):
            self.find(
                "chain_broken",
                row.position,
                f"chain row {row.position} does not follow from the row before it",
            )
        self.recorded, self.recorded_seq = row.chain_hash, row.seq


def verify(
    app: Application[UUID],
    store: AuditStore,
    *,
    checkpoints: Sequence[dict[str, Any]] = (),
    public_key: str | None,
    notes: Sequence[str] = (),
    verifier: Verifier | None = None,
    batch: int = BATCH,
    jobs: int = 1,
    progress: Progress | None = None,
) -> VerifyReport:
    """`jobs`: processes to hash in, on PostgreSQL when the log is large (audit/scan.py)."""
    started = time.perf_counter()
    report = VerifyReport()
    log_head = log_head_of(app)
    roots = _trusted_roots(notes, verifier, report)
    trusted = _trusted(checkpoints, public_key, report)
    kept = store.has_tables()
    with store.read() as tx:
        head = store.head(tx) if kept else None
        report.chain_head = head.position if head else 0
        with Scan(app, store, tx, batch, kept=kept, jobs=jobs) as scan:
            report.workers = scan.workers
            walk = _Walk(scan, report, trusted, roots)
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


def _side_by_side(walk: _Walk, events: list[Recorded], rows: list[ChainRow]) -> None:
    """Walk a batch of the log and its chain rows together, one position at a time."""
    e = r = 0
    while e < len(events) or r < len(rows):
        event = events[e] if e < len(events) else None
        row = rows[r] if r < len(rows) else None
        position = min(
            event.position if event is not None else 1 << 62,
            row.position if row is not None else 1 << 62,
        )
        walk.settle(position)
        has_event = event is not None and event.position == position
        here = row if row is not None and row.position == position else None
        if event is not None and has_event:
            walk.event(event, here)
            e += 1
        if here is not None:
            walk.row(here, has_event=has_event)
            r += 1
