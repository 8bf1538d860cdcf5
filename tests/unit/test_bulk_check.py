"""The bulk check of a batch (audit/bulk_check.py) hashes exactly the canonical entries, and
says "no" to anything it cannot vouch for, so that the exact walk takes over."""

from __future__ import annotations

import hashlib

from audit import bulk_check
from audit.encoding import GENESIS, canonical, chain_hash, timestamp_of
from audit.merkle import leaf_hash
from audit.store import ChainBlock
from storage.log import StoredRow

IDS = ("6f1c1d0e-7a4b-5c53-9d43-4b7669741a01", "0a2b3c4d-0000-4000-8000-00000000002a")


def state(n: int) -> bytes:
    stamp = f"2026-03-05T10:00:{n:02d}.123456+00:00"
    timestamp = '{"_type_":"datetime_iso","_data_":"' + stamp + '"}'
    return f'{{"timestamp":{timestamp},"n":{n}}}'.encode()


EVENTS: list[StoredRow] = [
    (10 + n, IDS[n % 2], n + 1, "kvit.wallet.credited" if n % 2 else "kvit.ёлка", state(n))
    for n in range(5)
]


def recorded(events: list[StoredRow], running: bytes = GENESIS, seq: int = 0) -> ChainBlock:
    """What the follower (audit/chain.py) records for these events."""
    stamps, digests, chains = [], [], []
    for _, ident, version, topic, body in events:
        stamp = timestamp_of(body)
        digest = hashlib.sha256(canonical(ident, version, topic, stamp, body)).digest()
        running = chain_hash(running, digest)
        stamps.append(stamp.encode())
        digests.append(digest)
        chains.append(running)
    positions = [e[0] for e in events]
    seqs = list(range(seq + 1, seq + len(events) + 1))
    return ChainBlock(positions, seqs, b"".join(stamps), b"".join(digests), b"".join(chains))


def test_a_batch_that_matches_its_chain_gives_the_canonical_leaves() -> None:
    leaves = bulk_check.check(EVENTS, recorded(EVENTS), GENESIS, 0)
    entries = [canonical(i, v, t, timestamp_of(s), s) for _, i, v, t, s in EVENTS]
    assert leaves == [leaf_hash(e) for e in entries]


def test_a_batch_in_the_middle_of_the_chain_follows_the_row_before_it() -> None:
    before = b"\x07" * 32
    block = recorded(EVENTS, before, 41)
    assert bulk_check.check(EVENTS, block, before, 41) is not None
    assert bulk_check.check(EVENTS, block, GENESIS, 41) is None  # another chain before it
    assert bulk_check.check(EVENTS, block, before, 40) is None  # another row before it


def test_anything_the_chain_did_not_record_is_left_to_the_exact_walk() -> None:
    block = recorded(EVENTS)
    changed = list(EVENTS)
    changed[2] = (*EVENTS[2][:4], EVENTS[2][4].replace(b'"n":2', b'"n":3'))
    assert bulk_check.check(changed, block, GENESIS, 0) is None
    upper = [(p, i.upper(), v, t, s) for p, i, v, t, s in EVENTS]  # same id, not as hashed
    assert bulk_check.check(upper, block, GENESIS, 0) is None
    assert bulk_check.check(EVENTS[:4], block, GENESIS, 0) is None  # a row with no event
    assert bulk_check.check([], recorded([]), GENESIS, 0) is None
    negative = [(*EVENTS[0][:2], -1, *EVENTS[0][3:]), *EVENTS[1:]]
    assert bulk_check.check(negative, block, GENESIS, 0) is None


def test_a_timestamp_the_chain_records_but_the_state_spells_otherwise_is_used_as_recorded() -> None:
    """The entry takes the chain's timestamp: a state whose time has no microseconds (so the
    state's text is not the canonical one) still matches without decoding any JSON."""
    body = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-05T10:00:00+00:00"}}'
    events: list[StoredRow] = [(1, IDS[0], 1, "t", body)]
    assert bulk_check.check(events, recorded(events), GENESIS, 0) is not None
