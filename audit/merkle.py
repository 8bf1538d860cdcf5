"""The Merkle tree of RFC 9162 §2.1: tree hashes, inclusion and consistency proofs.

    leaf hash  SHA-256(0x00 ‖ entry)          node hash  SHA-256(0x01 ‖ left ‖ right)
    MTH(D[n])  the largest power of two k < n splits D[n] into D[0:k] and D[k:n]

Nothing here does I/O. Proofs are generated from `perfect(level, index)`: the hash of the
perfect subtree of 2**level leaves starting at leaf `index * 2**level`, which a caller answers
from stored tiles (audit/tiles.py) or from memory (`MemoryTree`). Verification follows the
RFC's algorithms step by step (§2.1.3.2, §2.1.4.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
Perfect = Callable[[int, int], bytes]
"""(level, index) -> the hash of that perfect subtree."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(start: int, end: int, perfect: Perfect) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion makes (start aligned to a power of
    two at least as large as the range): its perfect subtrees from the left, folded right."""
    if start >= end:
        return EMPTY_ROOT
    parts = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        parts.append(perfect(level, start >> level))
        start += 1 << level
    folded = parts[-1]
    for part in reversed(parts[:-1]):
        folded = node_hash(part, folded)
    return folded


def root(size: int, perfect: Perfect) -> bytes:
    return range_hash(0, size, perfect)


def inclusion_proof(index: int, size: int, perfect: Perfect) -> list[bytes]:
    """PATH(index, D[size]) (§2.1.3.1), from the leaf's sibling up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path, low, high = [], 0, size
    while high - low > 1:
        k = split(high - low)
        if index - low < k:
            path.append(range_hash(low + k, high, perfect))
            high = low + k
        else:
            path.append(range_hash(low, low + k, perfect))
            low += k
    return path[::-1]


def consistency_proof(first: int, second: int, perfect: Perfect) -> list[bytes]:
    """PROOF(first, D[second]) (§2.1.4.1); empty when first is 0 or equals second."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    proof, low, high, m, complete = [], 0, second, first, True
    while m != high - low:
        k = split(high - low)
        if m <= k:
            proof.append(range_hash(low + k, high, perfect))
            high = low + k
        else:
            proof.append(range_hash(low, low + k, perfect))
            low, m, complete = low + k, m - k, False
    if not complete:
        proof.append(range_hash(low, high, perfect))
    return proof[::-1]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """§2.1.3.2, step by step: does `leaf` (a leaf hash) sit at `index` of the tree whose
    size-`size` root is `expected_root`?"""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """§2.1.4.2, step by step, with the two cases the RFC leaves to the caller: equal sizes
    (an empty proof and equal roots) and an empty first tree (an empty proof)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): a tree that grows by one
    leaf at amortised one node hash, and gives the root of any size it passes."""

    __slots__ = ("hashes", "size")

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        hashes, size = self.hashes, self.size
        while size & 1:
            leaf = node_hash(hashes.pop(), leaf)
            size >>= 1
        hashes.append(leaf)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        folded = self.hashes[-1]
        for part in reversed(self.hashes[:-1]):
            folded = node_hash(part, folded)
        return folded


class MemoryTree:
    """Every level of a tree in memory (tests, and small trees built from fetched entries)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        self._complete()

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        self._complete()

    def _complete(self) -> None:
        level = 0
        while len(self.levels[level]) > 1:
            below = self.levels[level]
            if len(self.levels) == level + 1:
                self.levels.append([])
            above = self.levels[level + 1]
            for i in range(len(above), len(below) // 2):
                above.append(node_hash(below[2 * i], below[2 * i + 1]))
            level += 1

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else size, self.perfect)


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over `hashes` (a power of two of them)."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ValueError(f"a perfect subtree has a power of two of hashes, not {len(level)}")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
