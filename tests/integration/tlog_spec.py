"""A second verifier of Kvit's transparency log, written from the texts alone (RFC 9162 §2.1,
C2SP signed-note, tlog-checkpoint, tlog-tiles, tlog-cosignature). It shares no code with
audit/: if both read the specs the same way, a log one accepts the other accepts too."""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) as §2.1.1 defines it, recursively, over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def inclusion_ok(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """§2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            r = sha(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def consistency_ok(m: int, n: int, old: bytes, new: bytes, path: list[bytes]) -> bool:
    """§2.1.4.2 (for 0 < m < n)."""
    if not path:
        return False
    if m & (m - 1) == 0:
        path = [old, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = sha(b"\x01" + c + fr)
            sr = sha(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            sr = sha(b"\x01" + sr + c)
        fn //= 2
        sn //= 2
    return fr == old and sr == new and sn == 0


def open_note(text: str, vkey: str) -> tuple[str, int, bytes]:
    """Check the note's signature by the verifier key `name+hash+base64(0x01‖key)`; return the
    checkpoint's origin, size and root."""
    name, hexid, encoded = vkey.split("+", 2)  # the key (base64) may contain "+"
    raw = base64.b64decode(encoded)
    assert raw[0] == 1 and len(raw) == 33
    assert sha(name.encode() + b"\n" + raw)[:4].hex() == hexid
    body, _, signatures = text.rpartition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        signer, blob = line.removeprefix("\u2014 ").split(" ")
        sig = base64.b64decode(blob)
        if signer == name and sig[:4].hex() == hexid:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], body.encode())
            origin, size, root = body.splitlines()[:3]
            assert origin == name
            return origin, int(size), base64.b64decode(root)
    raise AssertionError("not signed by that key")


def cosigned_by(text: str, name: str, public: bytes) -> int:
    """The time a tlog-cosignature/v1 by this key states, after checking it."""
    body, _, signatures = text.rpartition("\n\n")
    body += "\n"
    keyid = sha(name.encode() + b"\n\x04" + public)[:4]
    for line in signatures.splitlines():
        signer, blob = line.removeprefix("\u2014 ").split(" ")
        sig = base64.b64decode(blob)
        if signer == name and sig[:4] == keyid:
            (stamp,) = struct.unpack(">Q", sig[4:12])
            message = b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + body.encode()
            Ed25519PublicKey.from_public_bytes(public).verify(sig[12:], message)
            return int(stamp)
    raise AssertionError("no cosignature by that witness")


def tile_name(level: int, index: int, width: int) -> str:
    digits = str(index).rjust(3 * ((len(str(index)) + 2) // 3), "0")
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join(["x" + p for p in parts[:-1]] + [parts[-1]])
    return f"{level}/{path}" + ("" if width == 256 else f".p/{width}")


def leaf_hashes_from_tiles(fetch: object, size: int) -> list[bytes]:
    """Every leaf hash of a tree of `size` leaves, from level-0 tiles (full, then partial)."""
    get = fetch  # (path) -> bytes
    hashes: list[bytes] = []
    for index in range((size + 255) // 256):
        width = min(256, size - 256 * index)
        data = get("tile/" + tile_name(0, index, width))  # type: ignore[operator]
        assert len(data) == 32 * width
        hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
    return hashes


def entries(bundle: bytes) -> list[bytes]:
    found, at = [], 0
    while at < len(bundle):
        (length,) = struct.unpack(">H", bundle[at : at + 2])
        found.append(bundle[at + 2 : at + 2 + length])
        at += 2 + length
    return found
