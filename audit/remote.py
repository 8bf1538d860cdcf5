"""`kvit audit verify --from URL`: a log checked from what a deployment serves, nothing else.

Everything comes from one tile prefix (C2SP tlog-tiles): the signed checkpoint, the entry
bundles and the hash tiles. The checker

- opens the checkpoint with the log's verifier key (given out of band; a key served by the
  deployment proves only that the deployment agrees with itself);
- recomputes every leaf hash from the entries, and the tree from the leaves;
- compares each hash tile the deployment serves (level 0, the leaves, and every level above,
  full and partial) with the recomputed nodes: `tile_mismatch` at the first leaf under the
  first wrong hash;
- compares the recomputed root with the signed one: `root_mismatch`;
- given the checkpoint the auditor kept from an earlier run, recomputes the root at its size
  from the same leaves: the new tree extends the old one only if they are equal
  (`inconsistent` otherwise, or if the log shrank). This is stronger than a consistency proof:
  every leaf of the old tree was read again.

Findings name leaf indices (a leaf is the log's event of that rank). Nothing here does I/O:
the caller passes `fetch`.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from audit.merkle import leaf_hash
from audit.note import Checkpoint, NoteError, Verifier, open_checkpoint
from audit.tile_tree import HEIGHT, WIDTH, TileTree
from audit.tiles import entries_path, tile_path

AHEAD = 8
"""Bundles (with their leaf tiles) fetched ahead of the hashing."""
MAX_FINDINGS = 100
Fetch = Callable[[str], bytes]
"""A path under the tile prefix (`checkpoint`, `tile/0/x001/234`, …) -> its body; raises
`MissingError` if the deployment does not serve it."""


class MissingError(LookupError):
    """The deployment does not serve that path."""


@dataclass(frozen=True)
class RemoteFinding:
    kind: str
    leaf: int
    detail: str


@dataclass
class RemoteReport:
    origin: str = ""
    size: int = 0
    root: bytes = b""
    bundles: int = 0
    tiles: int = 0
    kept: int | None = None
    """The size of the auditor's kept checkpoint the tree was checked against."""
    findings: list[RemoteFinding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else 0.0

    def find(self, kind: str, leaf: int, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(RemoteFinding(kind, leaf, detail))


def verify_remote(
    fetch: Fetch,
    verifier: Verifier,
    *,
    kept: Checkpoint | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RemoteReport, Checkpoint | None]:
    """Check the log served through `fetch`; returns the report and the checkpoint it checked
    (None if none could be opened)."""
    started = time.perf_counter()
    report = RemoteReport()
    try:
        checkpoint, _ = open_checkpoint(fetch("checkpoint").decode(), verifier)
    except MissingError:
        report.find("missing", 0, "the deployment serves no checkpoint")
        return report, None
    except (NoteError, UnicodeDecodeError) as error:
        report.find("bad_signature", 0, f"the checkpoint: {error}")
        return report, None
    report.origin, report.size, report.root = checkpoint.origin, checkpoint.size, checkpoint.root
    if kept is not None:
        report.kept = kept.size
        if kept.origin != checkpoint.origin or kept.size > checkpoint.size:
            report.find(
                "inconsistent",
                min(kept.size, checkpoint.size),
                f"the kept checkpoint is of {kept.origin} at size {kept.size}; the log now"
                f" signs {checkpoint.origin} at size {checkpoint.size}: it shrank or forked",
            )
            kept = None
    recomputed = _Rebuild(fetch, report, kept, progress).run()
    if recomputed is not None and recomputed != checkpoint.root:
        report.find(
            "root_mismatch",
            0,
            f"the tree of the {report.size} entries served does not have the root signed for"
            " that size",
        )
    report.seconds = time.perf_counter() - started
    return report, checkpoint


class _Rebuild:
    def __init__(
        self,
        fetch: Fetch,
        report: RemoteReport,
        kept: Checkpoint | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.fetch, self.report, self.kept, self.progress = fetch, report, kept, progress
        self.tree = TileTree()
        self.rows: dict[int, list[bytes]] = {}
        """Level (≥ 1) -> the recomputed hashes of its tile being filled."""

    def run(self) -> bytes | None:
        """The root of the tree rebuilt from every entry; None if some could not be read."""
        size = self.report.size
        try:
            for index, bundle, tile in self._fetched():
                if not self._bundle(index, bundle, tile):
                    return None
        except MissingError as error:
            self.report.find("missing", self.tree.size, f"not served: {error}")
            return None
        for level, row in sorted(self.rows.items()):
            if row:  # the rightmost tile of that level is partial
                count = size >> (HEIGHT * level)
                self._check_tile(level, count // WIDTH, row)
        return self.tree.root()

    def _bundle(self, index: int, bundle: bytes, tile: bytes) -> bool:
        size = self.report.size
        width = min(WIDTH, size - index * WIDTH)
        entries = _entries(bundle, width)
        if entries is None:
            self.report.find(
                "bad_bundle",
                index * WIDTH,
                f"{entries_path(index, width)} is not {width} length-prefixed entries",
            )
            return False
        leaves = [leaf_hash(entry) for entry in entries]
        self._compare(0, index, b"".join(leaves), tile)
        self._extend(leaves)
        if self.progress is not None:
            self.progress(self.tree.size, size)
        return True

    def _extend(self, leaves: list[bytes]) -> None:
        cut = self.kept.size - self.tree.size if self.kept is not None else -1
        if self.kept is not None and 0 < cut <= len(leaves):
            self._nodes(self.tree.extend(leaves[:cut]))
            if self.tree.root() != self.kept.root:
                self.report.find(
                    "inconsistent",
                    0,
                    f"the first {self.kept.size} entries do not have the root of the checkpoint"
                    " kept at that size: the log's history was rewritten (a fork)",
                )
            leaves = leaves[cut:]
        self._nodes(self.tree.extend(leaves))

    def _nodes(self, made: list[tuple[int, int, bytes]]) -> None:
        for height, index, node in made:
            row = self.rows.setdefault(height // HEIGHT, [])
            row.append(node)
            if index % WIDTH == WIDTH - 1:
                self._check_tile(height // HEIGHT, index // WIDTH, row)
                row.clear()

    def _check_tile(self, level: int, index: int, row: list[bytes]) -> None:
        try:
            served = self.fetch(tile_path(level, index, len(row)))
        except MissingError:
            self.report.find(
                "missing", index * WIDTH << (HEIGHT * level), f"{tile_path(level, index, len(row))}"
            )
            return
        self._compare(level, index, b"".join(row), served)

    def _compare(self, level: int, index: int, mine: bytes, served: bytes) -> None:
        self.report.tiles += 1
        if mine == served:
            return
        at = next(
            (i for i in range(0, len(mine), 32) if mine[i : i + 32] != served[i : i + 32]),
            len(mine),
        )
        leaf = (index * WIDTH + at // 32) << (HEIGHT * level)
        path = tile_path(level, index, len(mine) // 32)
        self.report.find(
            "tile_mismatch",
            leaf,
            f"{path} does not hold the hashes recomputed from the entries (from leaf {leaf})",
        )

    def _fetched(self) -> Iterator[tuple[int, bytes, bytes]]:
        """(index, entry bundle, leaf tile) in order, fetched a few ahead on threads."""
        size, count = self.report.size, -(-self.report.size // WIDTH)

        def both(index: int) -> tuple[bytes, bytes]:
            width = min(WIDTH, size - index * WIDTH)
            return self.fetch(entries_path(index, width)), self.fetch(tile_path(0, index, width))

        with ThreadPoolExecutor(4, thread_name_prefix="kvit-verify-fetch") as pool:
            waiting: deque[Future[tuple[bytes, bytes]]] = deque()
            asked = 0
            for index in range(count):
                while asked < count and len(waiting) < AHEAD:
                    waiting.append(pool.submit(both, asked))
                    asked += 1
                bundle, tile = waiting.popleft().result()
                self.report.bundles += 1
                yield index, bundle, tile


def _entries(bundle: bytes, width: int) -> list[bytes] | None:
    """The entries of a bundle, if it is exactly `width` of them, each a u16 length and bytes."""
    entries, at = [], 0
    while at < len(bundle):
        if at + 2 > len(bundle):
            return None
        (length,) = struct.unpack_from(">H", bundle, at)
        if at + 2 + length > len(bundle):
            return None
        entries.append(bundle[at + 2 : at + 2 + length])
        at += 2 + length
    return entries if len(entries) == width else None
