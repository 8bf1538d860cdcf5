"""The rules of `verify`, applied to the log a batch at a time (audit/verify.py says what each
finding means): a batch that agrees with its chain is taken in bulk; any other is walked one
position at a time beside its chain rows; and the stored tree is compared with the one
recomputed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from hashlib import sha256
from typing import Any

from audit import bulk_check
from audit.encoding import GENESIS, EntryError, canonical, chain_hash, timestamp_of
from audit.report import Finding, VerifyReport
from audit.scan import Batch, Scan
from audit.store import ChainRow
from audit.tile_tree import HEIGHT, Node, TileTree
from storage.log import Recorded

MAX_FINDINGS = 100
MAX_LOOKUPS = 20


class Walk:
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
        try:
            entry = canonical(event.originator_id, event.version, event.topic, stamp, event.state)
        except EntryError as error:
            # No leaf and no link of the chain: what follows is compared without it (a
            # checkpoint after it disagrees, and says this finding is why).
            report.events, report.last_position = report.events + 1, position
            self.find("malformed", position, f"the event at position {position}: {error}")
            return
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
        leaves = None
        if self.running == self.recorded and self.count == self.recorded_seq:
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
        wrong = sorted(
            (index << height, height, index)
            for height, index, node in self.nodes
            if stored.get((height, index), node) != node
        )
        for leaf, height, index in wrong:
            # A change to the log under the node (or before it) changes the node recomputed,
            # not the stored one: that finding is why. The first node no finding explains is
            # where the stored tree was changed.
            after = self.tile_starts.get(leaf + (1 << height))
            if any(after is None or f.position < after for f in self.found):
                continue
            position = self.tile_starts.get(leaf, self.report.last_position)
            self.tree_broken(position, f"the stored tree's node {index} at height {height}")
            return

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


def _side_by_side(walk: Walk, events: list[Recorded], rows: list[ChainRow]) -> None:
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
