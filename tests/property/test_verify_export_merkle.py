"""docs/verify_export.py's Merkle tree, written apart from audit/merkle.py, against it: for
random leaves the roots are equal, the one-pass inclusion proof is the proof audit/ serves,
and each side's proofs verify on the other side and fail when altered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from tests.standalone import load

checker = load("verify_export")
entries = st.lists(st.binary(max_size=40), max_size=300)


def flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


@settings(max_examples=150, deadline=None)
@given(entries=entries)
def test_the_scripts_root_is_audits_root(entries: list[bytes]) -> None:
    tree, ours = merkle.MemoryTree(merkle.leaf_hash(e) for e in entries), checker.Tree()
    for entry in entries:
        ours.append(checker.leaf_hash(entry))
    assert ours.size == tree.size and ours.root() == tree.root()


@settings(max_examples=150, deadline=None)
@given(entries=entries.filter(bool), data=st.data())
def test_the_scripts_inclusion_proofs_are_audits(entries: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(e) for e in entries]
    tree = merkle.MemoryTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    path = checker.InclusionPath(index, size)
    for i, leaf in enumerate(leaves):
        path.add(i, leaf, {"position": i + 1})
    proof, root = path.proof(), tree.root(size)
    assert path.leaf == leaves[index]
    assert proof == merkle.inclusion_proof(index, size, tree.perfect)
    assert checker.verify_inclusion(leaves[index], index, size, proof, root)
    bit = data.draw(st.integers(0, 255))
    assert not checker.verify_inclusion(flip(leaves[index], bit), index, size, proof, root)
    assert not checker.verify_inclusion(leaves[index], index, size, proof, flip(root, bit))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        assert not checker.verify_inclusion(leaves[index], index, size, changed, root)


@settings(max_examples=150, deadline=None)
@given(second=st.integers(1, 300), data=st.data())
def test_audits_consistency_proofs_verify_in_the_script(second: int, data: st.DataObject) -> None:
    tree = merkle.MemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(second))
    first = data.draw(st.integers(0, second))
    old, new = tree.root(first), tree.root()
    proof = merkle.consistency_proof(first, second, tree.perfect)
    assert checker.verify_consistency(first, second, old, new, proof)
    bit = data.draw(st.integers(0, 255))
    if first > 0:
        assert not checker.verify_consistency(first, second, flip(old, bit), new, proof)
        assert not checker.verify_consistency(first, second, old, flip(new, bit), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:at], flip(proof[at], bit), *proof[at + 1 :]]
        assert not checker.verify_consistency(first, second, old, new, changed)
