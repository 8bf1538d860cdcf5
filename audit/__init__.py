"""The event log's integrity: a hash chain beside the log, signed checkpoints, verify, export.

    encoding.py   the canonical encoding of a stored event and the chain's hash rule
    store.py      the `audit_chain` / `audit_checkpoint` side tables (SQLite or PostgreSQL)
    chain.py      the follower that extends the chain in commit order
    signing.py    Ed25519 keys and signed checkpoints
    verify.py     walk the log against the chain and the checkpoints; report findings
    walk.py       verify's rules, a batch at a time;  report.py  its findings and counts
    scan.py       read the log, chain and stored tree in one snapshot, a batch ahead
    bulk_check.py a batch that agrees with its chain, checked in bulk
    tile_tree.py  the Merkle tree recomputed tile by tile
    remote.py     `verify --from URL`: a log checked from the tiles it serves
    export.py     JSON Lines export and the paged event feed for auditors
    proof.py      where an event (a payment) sits in the chain; log position at a time

This package imports only `ledger` and the `eventsourcing` library.
"""
