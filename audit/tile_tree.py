"""A Merkle tree recomputed tile by tile from its leaves, as fast as Python hashes.

Leaves arrive in bulk (a batch of the log, or an entry bundle fetched from a deployment).
Every 256 hashes at a height 8·k (a full tile's row) are folded into one node at height
8·(k+1): the hashes tlog-tiles serves at level k+1, and the rows `audit_tree` keeps. Each new
node at a height of 8, 16, … is handed to the caller once, so it can be compared with a stored
or a fetched tile. The root of the tree at its current size folds what is left over at each
height, by the RFC 9162 rule (the same value as `merkle.root`, without a callback per node).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from audit.merkle import EMPTY_ROOT, node_hash

HEIGHT = 8
WIDTH = 1 << HEIGHT
Node = tuple[int, int, bytes]
"""(height, index, hash): a node at height 8·k, the `index`-th of that height."""


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over `hashes` (a power of two of them), level by level."""
    level = list(hashes)
    node_of = _NODE.copy
    while len(level) > 1:
        pairs = iter(level)
        above: list[bytes] = []
        to = above.append
        for left, right in zip(pairs, pairs, strict=True):
            node = node_of()
            node.update(left)
            node.update(right)
            to(node.digest())
        level = above
    return level[0]


_NODE = sha256(b"\x01")
"""SHA-256 having taken a node's 0x01 prefix: each node is a copy fed its two children (no
concatenated bytes per node)."""


class TileTree:
    """The tree of the leaves given so far; `pending[k]` holds the nodes at height 8·k that
    are not yet folded into one above (fewer than 256 at each height)."""

    __slots__ = ("pending", "size")

    def __init__(self) -> None:
        self.size = 0
        self.pending: list[list[bytes]] = [[]]

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append leaf hashes; returns the nodes at heights 8, 16, … this completed, in order."""
        below = self.pending[0]
        before = len(below)
        below.extend(leaves)
        self.size += len(below) - before
        made: list[Node] = []
        k = 0
        while len(self.pending[k]) >= WIDTH:
            row = self.pending[k]
            if len(self.pending) == k + 1:
                self.pending.append([])
            above = self.pending[k + 1]
            full = len(row) // WIDTH * WIDTH
            for start in range(0, full, WIDTH):
                node = fold(row[start : start + WIDTH])
                index = (self.size >> (HEIGHT * (k + 1))) - (full - start) // WIDTH
                made.append((HEIGHT * (k + 1), index, node))
                above.append(node)
            del row[:full]
            k += 1
        made.sort()
        return made

    def root(self) -> bytes:
        """MTH of the leaves so far: the perfect subtrees of the size's binary digits, from the
        largest (leftmost) down, folded from the right."""
        parts: list[bytes] = []
        for row in reversed(self.pending):
            at = 0
            for bit in reversed(range(HEIGHT)):
                if len(row) >> bit & 1:
                    parts.append(fold(row[at : at + (1 << bit)]))
                    at += 1 << bit
        if not parts:
            return EMPTY_ROOT
        folded = parts[-1]
        for part in reversed(parts[:-1]):
            folded = node_hash(part, folded)
        return folded
