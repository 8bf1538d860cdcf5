"""For random trees: every inclusion and consistency proof verifies, and any altered hash,
index, size or proof element fails (RFC 9162 §2.1.3–2.1.4)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle

sizes = st.integers(min_value=1, max_value=300)


def tree_of(size: int) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size))


def flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


@settings(max_examples=150, deadline=None)
@given(size=sizes, data=st.data())
def test_inclusion_proofs_verify_and_any_change_fails(size: int, data: st.DataObject) -> None:
    tree = tree_of(size)
    index = data.draw(st.integers(0, size - 1))
    leaf, head = tree.perfect(0, index), tree.root()
    proof = merkle.inclusion_proof(index, size, tree.perfect)
    assert merkle.verify_inclusion(leaf, index, size, proof, head)
    bit = data.draw(st.integers(0, 255))
    assert not merkle.verify_inclusion(flip(leaf, bit), index, size, proof, head)
    assert not merkle.verify_inclusion(leaf, index, size, proof, flip(head, bit))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        assert not merkle.verify_inclusion(leaf, index, size, changed, head)
        assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], head)
    other = data.draw(st.integers(0, size + 3).filter(lambda i: i != index))
    assert not merkle.verify_inclusion(leaf, other, size, proof, head)
    # A size is bound to its root (the checkpoint signs both): a proof for one size does not
    # verify against the root of another.
    bigger = data.draw(st.integers(size + 1, 2 * size + 2))
    assert not merkle.verify_inclusion(leaf, index, bigger, proof, tree_of(bigger).root())
    assert not merkle.verify_inclusion(leaf, index, size, [*proof, head], head)


@settings(max_examples=150, deadline=None)
@given(second=sizes, data=st.data())
def test_consistency_proofs_verify_and_any_change_fails(second: int, data: st.DataObject) -> None:
    tree = tree_of(second)
    first = data.draw(st.integers(1, second))
    old, new = tree.root(first), tree.root()
    proof = merkle.consistency_proof(first, second, tree.perfect)
    assert merkle.verify_consistency(first, second, old, new, proof)
    assert merkle.verify_consistency(0, second, merkle.EMPTY_ROOT, new, [])
    bit = data.draw(st.integers(0, 255))
    assert not merkle.verify_consistency(first, second, flip(old, bit), new, proof)
    assert not merkle.verify_consistency(first, second, old, flip(new, bit), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        assert not merkle.verify_consistency(first, second, old, new, changed)
        assert not merkle.verify_consistency(first, second, old, new, proof[:-1])
    if first < second:
        longer = tree_of(second + 1).root()
        assert not merkle.verify_consistency(first, second + 1, old, longer, proof)
        lower = data.draw(st.integers(1, second - 1).filter(lambda m: m != first))
        assert not merkle.verify_consistency(lower, second, tree.root(lower), new, proof)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 2000))
def test_the_compact_range_and_stored_levels_give_the_same_root(size: int) -> None:
    tree, grown = tree_of(size), merkle.CompactRange()
    grown.extend(tree.levels[0])
    assert grown.root() == tree.root()
