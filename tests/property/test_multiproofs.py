"""For random trees and random sets of leaves: a multiproof rebuilds the signed root, has each
needed hash once (for one leaf, the RFC inclusion proof's), and any altered leaf, index, size
or proof hash gives another root or is refused (audit/multiproof.py)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle, multiproof
from tests.property.test_merkle_proofs import flip, tree_of


@st.composite
def trees_and_leaves(draw: st.DrawFn) -> tuple[merkle.MemoryTree, list[int]]:
    size = draw(st.integers(1, 300))
    indices = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=4, unique=True))
    return tree_of(size), sorted(indices)


@settings(max_examples=200, deadline=None)
@given(case=trees_and_leaves(), data=st.data())
def test_a_multiproof_rebuilds_the_root_and_any_change_gives_another(
    case: tuple[merkle.MemoryTree, list[int]], data: st.DataObject
) -> None:
    tree, indices = case
    size, head = tree.size, tree.root()
    leaves = {i: tree.perfect(0, i) for i in indices}
    proof = multiproof.multiproof(indices, size, tree.perfect)
    assert multiproof.root(leaves, size, proof) == head
    paths = {i: merkle.inclusion_proof(i, size, tree.perfect) for i in indices}
    assert multiproof.from_paths(paths, size) == proof
    assert len(proof) <= sum(len(p) for p in paths.values())
    if len(indices) == 1:  # the RFC's path, its hashes ordered left to right
        path = paths[indices[0]]
        ranges = multiproof.path_ranges(indices[0], size)
        assert proof == [h for _, h in sorted(zip(ranges, path, strict=True))]

    bit = data.draw(st.integers(0, 255))
    which = data.draw(st.sampled_from(indices))
    assert multiproof.root({**leaves, which: flip(leaves[which], bit)}, size, proof) != head
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        assert multiproof.root(leaves, size, changed) != head
        with pytest.raises(ValueError):
            multiproof.root(leaves, size, proof[:-1])
    moved = data.draw(st.integers(0, size - 1).filter(lambda i: i not in leaves))
    if size > len(indices):
        shifted = {**{i: h for i, h in leaves.items() if i != which}, moved: leaves[which]}
        with contextlib.suppress(ValueError):  # another shape: a wrong number of hashes
            assert multiproof.root(shifted, size, proof) != head
    bigger = data.draw(st.integers(size + 1, 2 * size + 2))
    with contextlib.suppress(ValueError):
        assert multiproof.root(leaves, bigger, proof) != tree_of(bigger).root()


def test_leaves_outside_the_tree_are_refused() -> None:
    tree = tree_of(5)
    with pytest.raises(ValueError, match="not all in a tree of size 5"):
        multiproof.multiproof([2, 5], 5, tree.perfect)
    with pytest.raises(ValueError, match="not all in a tree of size 5"):
        multiproof.root({5: bytes(32)}, 5, [])
