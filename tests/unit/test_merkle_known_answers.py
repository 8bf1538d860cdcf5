"""Known answers: the RFC 6962 / 9162 test vectors (Certificate Transparency's merkle tree
tests) for tree heads and proofs, and the signed-note example of the Go note package, which
the C2SP signed-note spec describes."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle, note, tiles

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION_0_OF_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
CONSISTENCY = {
    (1, 8): INCLUSION_0_OF_8,
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def tree() -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(leaf) for leaf in LEAVES)


def test_tree_heads_of_the_eight_standard_leaves_are_the_published_ones() -> None:
    built, grown = tree(), merkle.CompactRange()
    assert merkle.root(0, built.perfect).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    for size, expected in enumerate(ROOTS, start=1):
        grown.append(merkle.leaf_hash(LEAVES[size - 1]))
        assert built.root(size).hex() == expected
        assert grown.root().hex() == expected


def test_proofs_are_the_published_ones_and_verify() -> None:
    built = tree()
    proof = merkle.inclusion_proof(0, 8, built.perfect)
    assert [h.hex() for h in proof] == INCLUSION_0_OF_8
    assert merkle.verify_inclusion(built.perfect(0, 0), 0, 8, proof, bytes.fromhex(ROOTS[7]))
    for (first, second), expected in CONSISTENCY.items():
        found = merkle.consistency_proof(first, second, built.perfect)
        assert [h.hex() for h in found] == expected
        first_root, second_root = (bytes.fromhex(ROOTS[n - 1]) for n in (first, second))
        assert merkle.verify_consistency(first, second, first_root, second_root, found)


def test_the_go_note_example_signs_and_verifies_byte_for_byte() -> None:
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")  # PRIVATE+KEY+…
    key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    verifier = note.Verifier("PeterNeumann", note.ED25519, note.raw_public(key))
    assert verifier.text() == "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    body = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    signed = note.sign_note(body, "PeterNeumann", key)
    assert signed == body + (
        "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
        "ngotpRZb6KE6RyyBwJnAM=\n"
    )
    parsed = note.parse_note(signed)
    assert note.verified_by(parsed, note.Verifier.parse(verifier.text())) is not None
    tampered = note.parse_note(signed.replace("cryptography", "cryptographs"))
    assert note.verified_by(tampered, verifier) is None


def test_a_cosignature_verifies_with_its_timestamp_and_fails_with_another() -> None:
    witness = Ed25519PrivateKey.generate()
    body = note.checkpoint_body("example.com/log", 8, bytes.fromhex(ROOTS[7]))
    line = note.cosign(body, "witness.example", witness, at=1_700_000_000)
    verifier = note.Verifier("witness.example", note.COSIGNATURE, note.raw_public(witness))
    found = note.verified_by(note.parse_note(body + "\n" + line), verifier)
    assert found is not None and note.cosigned_at(found) == 1_700_000_000
    other = note.cosign(body, "witness.example", witness, at=1_700_000_001)
    forged = other[: other.rindex(" ") + 1]
    blob = bytearray(base64.b64decode(other.split()[-1]))
    blob[4:12] = (1_700_000_000).to_bytes(8, "big")  # claim another time
    forged += base64.b64encode(bytes(blob)).decode() + "\n"
    assert note.verified_by(note.parse_note(body + "\n" + forged), verifier) is None


def test_tile_paths_encode_the_index_in_three_digit_elements() -> None:
    assert tiles.tile_path(0, 0) == "tile/0/000"
    assert tiles.tile_path(1, 1234067) == "tile/1/x001/x234/067"
    assert tiles.tile_path(2, 5, width=17) == "tile/2/005.p/17"
    assert tiles.entries_path(1234, width=3) == "tile/entries/x001/234.p/3"
    found = tiles.TILE_PATH.fullmatch("tile/1/x001/x234/067")
    assert found is not None and tiles.parse_index(found["index"]) == 1234067
