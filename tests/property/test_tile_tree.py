"""The tree recomputed tile by tile (audit/tile_tree.py) is the RFC 9162 tree: for any sizes
and any way of cutting the leaves into batches, the same root at every size and the same
nodes at heights 8, 16, … as the tree kept level by level."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.tile_tree import TileTree


def leaves(size: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 700), max_size=6))
def test_any_batches_give_the_roots_and_nodes_of_the_whole_tree(cuts: list[int]) -> None:
    everything = leaves(sum(cuts))
    whole = merkle.MemoryTree(everything)
    grown, made, at = TileTree(), [], 0
    for cut in cuts:
        made += grown.extend(everything[at : at + cut])
        at += cut
        assert grown.size == at
        assert grown.root() == whole.root(at)
    assert made == [(8, i, whole.perfect(8, i)) for i in range(at // 256)]


def test_a_node_at_height_sixteen_and_the_root_beyond_it() -> None:
    size = 256 * 256 + 300
    everything = leaves(size)
    whole = merkle.MemoryTree(everything)
    grown = TileTree()
    made = grown.extend(everything[:1000]) + grown.extend(everything[1000:])
    assert (16, 0, whole.perfect(16, 0)) in made
    assert [n for n in made if n[0] == 8] == [(8, i, whole.perfect(8, i)) for i in range(257)]
    assert grown.root() == whole.root()
