"""docs/verify_export.py against the published answers: the RFC 6962 / 9162 test vectors for
tree heads and proofs, and the Go note package's signed-note example (tests of audit/ use the
same ones, tests/unit/test_merkle_known_answers.py)."""

from __future__ import annotations

import pytest

from tests.standalone import load
from tests.unit.test_merkle_known_answers import CONSISTENCY, INCLUSION_0_OF_8, LEAVES, ROOTS

checker = load("verify_export")
GO_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
    "ngotpRZb6KE6RyyBwJnAM=\n"
)


def test_tree_heads_of_the_eight_standard_leaves() -> None:
    tree = checker.Tree()
    assert tree.root().hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for leaf, expected in zip(LEAVES, ROOTS, strict=True):
        tree.append(checker.leaf_hash(leaf))
        assert tree.root().hex() == expected


def test_the_published_inclusion_and_consistency_proofs() -> None:
    path = checker.InclusionPath(0, 8)
    for i, leaf in enumerate(LEAVES):
        path.add(i, checker.leaf_hash(leaf), {})
    assert [h.hex() for h in path.proof()] == INCLUSION_0_OF_8
    root = bytes.fromhex(ROOTS[7])
    assert checker.verify_inclusion(checker.leaf_hash(LEAVES[0]), 0, 8, path.proof(), root)
    for (first, second), proof in CONSISTENCY.items():
        old, new = (bytes.fromhex(ROOTS[n - 1]) for n in (first, second))
        hashes = [bytes.fromhex(h) for h in proof]
        assert checker.verify_consistency(first, second, old, new, hashes)
        assert not checker.verify_consistency(first, second, new, old, hashes)


def test_the_go_note_example_verifies_and_a_changed_word_does_not() -> None:
    name, public = checker.parse_key(GO_KEY)
    body, signatures = checker.split_note(GO_NOTE)
    assert name == "PeterNeumann" and signatures[0][0] == name
    blob = signatures[0][1]
    assert blob[:4] == checker.key_id(name, public) == bytes.fromhex("c74f20a3")
    assert checker.ed25519_verify(public, body.encode(), blob[4:])
    changed = body.replace("cryptography", "cryptographs").encode()
    assert not checker.ed25519_verify(public, changed, blob[4:])


def test_a_key_whose_id_does_not_match_is_refused() -> None:
    wrong = GO_KEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(checker.UsageError, match="ID does not match"):
        checker.parse_key(wrong)
