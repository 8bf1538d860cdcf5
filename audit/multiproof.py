"""One proof that several leaves are in a tree: the receipt code's (audit/receipt_code.py).

RFC 9162 proves one leaf at a time; two leaves of one payment would carry two paths that share
every node above the point where they meet. A multiproof carries each needed hash once: the
roots of the largest subtrees of MTH(D[size]) (§2.1.1's split) that hold none of the leaves,
left to right. The verifier rebuilds the root from the leaves and those hashes by the same
recursion, and a checkpoint's signature over that root then proves every leaf at its index.
For one leaf it holds the hashes of the RFC's inclusion proof, ordered left to right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from audit.merkle import Perfect, node_hash, range_hash, split

Range = tuple[int, int]


def subtrees(indices: Sequence[int], size: int) -> list[Range]:
    """The ranges [start, end) whose hashes a multiproof of `indices` carries, in its order."""
    wanted = sorted(set(indices))
    if not wanted or wanted[0] < 0 or wanted[-1] >= size:
        raise ValueError(f"leaves {list(indices)} are not all in a tree of size {size}")
    found: list[Range] = []
    _walk(0, size, wanted, found.append)
    return found


def multiproof(indices: Sequence[int], size: int, perfect: Perfect) -> list[bytes]:
    return [range_hash(start, end, perfect) for start, end in subtrees(indices, size)]


def from_paths(paths: Mapping[int, Sequence[bytes]], size: int) -> list[bytes]:
    """The multiproof of the leaves `paths` names, from each one's RFC inclusion proof (every
    hash a multiproof needs is on one of those paths)."""
    known: dict[Range, bytes] = {}
    for index, path in paths.items():
        ranges = path_ranges(index, size)
        if len(ranges) != len(path):
            raise ValueError(f"the path of leaf {index} has {len(path)} hashes, not {len(ranges)}")
        known.update(zip(ranges, path, strict=True))
    return [known[r] for r in subtrees(list(paths), size)]


def path_ranges(index: int, size: int) -> list[Range]:
    """The range of each hash of PATH(index, D[size]) (§2.1.3.1), from the leaf's sibling up."""
    ranges, low, high = [], 0, size
    while high - low > 1:
        k = split(high - low)
        if index - low < k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low += k
    return ranges[::-1]


def root(leaves: Mapping[int, bytes], size: int, proof: Sequence[bytes]) -> bytes:
    """MTH(D[size]) from leaf hashes at their indices and a multiproof; ValueError if the
    proof does not have exactly the hashes the tree's shape needs."""
    wanted = sorted(leaves)
    if not wanted or wanted[0] < 0 or wanted[-1] >= size:
        raise ValueError(f"leaves {wanted} are not all in a tree of size {size}")
    needed = len(subtrees(wanted, size))
    if len(proof) != needed:
        raise ValueError(f"a proof of these leaves has {needed} hashes, not {len(proof)}")
    given = iter(proof)

    def mth(start: int, end: int) -> bytes:
        if end - start == 1 and start in leaves:
            return leaves[start]
        if not any(start <= i < end for i in wanted):
            return next(given)
        k = split(end - start)
        left = mth(start, start + k)
        return node_hash(left, mth(start + k, end))

    return mth(0, size)


def _walk(start: int, end: int, wanted: list[int], emit: Callable[[Range], None]) -> None:
    if not any(start <= i < end for i in wanted):
        emit((start, end))
    elif end - start > 1:
        k = split(end - start)
        _walk(start, start + k, wanted, emit)
        _walk(start + k, end, wanted, emit)
