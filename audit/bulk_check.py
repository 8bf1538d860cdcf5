"""The fast path of `verify`: a batch of the log checked against its chain rows in bulk.

For each event the entry is built from the stored columns and the timestamp its chain row
recorded (no JSON is decoded), then hashed: its event hash, the chain hash after it, and its
leaf hash. The batch agrees with the chain when its event hashes and chain hashes, end to end,
equal the recorded ones byte for byte. A match proves each event is the one the follower
hashed — state, id, version, topic and the timestamp it read from that state — since
SHA-256 admits no second preimage; anything else (a changed event or row, an event not
chained yet, a state whose entry this shortcut cannot build) is a mismatch, and the caller
walks that batch position by position with the exact rules of audit/verify.py instead.

The bytes built are `audit.encoding.canonical`'s, with the lengths a canonical id (36) and
timestamp (27) always have.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from hashlib import sha256

from audit.encoding import MAGIC
from audit.store import ChainBlock
from storage.log import StoredRow

ID_BYTES, STAMP_BYTES = 36, 27
_HEAD = MAGIC + struct.pack(">H", ID_BYTES)
_STAMP = struct.pack(">H", STAMP_BYTES)


def check(
    events: Sequence[StoredRow], block: ChainBlock, running: bytes, seq: int
) -> list[bytes] | None:
    """The batch's leaf hashes if it agrees with `block` (the chain rows of the same positions,
    following the chain hash `running` and row `seq`); None if anything differs. (Where it
    agrees, the chain hash after each event is the one its row recorded.)"""
    n = len(events)
    if (
        not n
        or len(block.stamps) != STAMP_BYTES * n
        or block.seqs != list(range(seq + 1, seq + n + 1))
        or block.positions != [e[0] for e in events]
    ):
        return None
    stamps = [block.stamps[i : i + STAMP_BYTES] for i in range(0, STAMP_BYTES * n, STAMP_BYTES)]
    digests: list[bytes] = []
    chains: list[bytes] = []
    leaves: list[bytes] = []
    digest_to, chain_to, leaf_to = digests.append, chains.append, leaves.append
    head, stamp_length, version_topic, state_length = _HEAD, _STAMP, _QH, _I
    leaf_of = _LEAF.copy
    try:
        for (_, ident, version, topic, state), stamp in zip(events, stamps, strict=True):
            name = topic.encode()
            entry = b"".join(
                (
                    head,
                    ident.encode(),
                    version_topic(version, len(name)),
                    name,
                    stamp_length,
                    stamp,
                    state_length(len(state)),
                    state,
                )
            )
            digest = sha256(entry).digest()
            running = sha256(running + digest).digest()
            digest_to(digest)
            chain_to(running)
            leaf = leaf_of()
            leaf.update(entry)
            leaf_to(leaf.digest())
    except (struct.error, TypeError, UnicodeError):
        return None  # a column out of range: the exact walk says what it is
    if b"".join(digests) != block.event_hashes or b"".join(chains) != block.chain_hashes:
        return None
    return leaves


_QH = struct.Struct(">QH").pack
_I = struct.Struct(">I").pack
_LEAF = sha256(b"\x00")
"""SHA-256 having taken the leaf's 0x00 prefix: a copy takes the entry, not a concatenation
(which would copy each entry once more)."""
