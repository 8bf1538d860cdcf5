"""Tampering against the Merkle tree's signed checkpoints, on PostgreSQL and SQLite: `verify`
recomputes the tree and finds each change at its position, even when the attacker rewrote
the chain, the tree and the notes too; a witness that saw the honest log refuses the new one."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle
from audit.chain import TreeMismatchError, build_tree, catch_up
from audit.note import Verifier, parse_checkpoint, parse_note
from audit.service import checkpoint_now, trusted_verifier
from audit.tiles import perfect_from
from audit.verify import VerifyReport, verify
from audit.witness import InconsistentLogError, Witness
from storage.log import events_table
from tests.fixtures import setup_world
from tests.integration.log_fixtures import pay
from tests.integration.test_audit_tamper import Log, changed_byte, log

__all__ = ["log"]  # the fixture: a chained, checkpointed log on each backend


def tree_verify(log: Log, *kept: str) -> VerifyReport:
    notes = [text for _, text in log.store.notes()] + list(kept)
    return verify(
        log.ledger,
        log.store,
        public_key=None,
        notes=notes,
        verifier=trusted_verifier(log.settings),
    )


def tree_findings(report: VerifyReport) -> list[tuple[str, int]]:
    return [(f.kind, f.position) for f in report.findings if f.kind != "bad_signature"]


def rewrite_everything(log: Log) -> None:
    """An insider recomputes the chain, the tree and the notes from the changed log."""
    for table in ("audit_tree", "audit_note", "audit_checkpoint", "audit_chain"):
        log.sql(f"DELETE FROM {log.store.name(table)}")
    checkpoint_now(log.ledger, log.store, log.settings)


def test_an_untouched_log_matches_every_signed_tree_root(log: Log) -> None:
    report = tree_verify(log)
    assert report.clean, report.findings
    assert report.tree_size == report.events and report.tree_checkpoints == 1


def test_a_changed_event_is_found_at_its_position_by_the_tree_too(log: Log) -> None:
    log.set_state(20, changed_byte(log.state(20)))
    assert ("tree_mismatch", 20) in tree_findings(tree_verify(log))


def test_a_rewritten_history_is_caught_by_a_kept_note_and_by_a_witness(
    log: Log, tmp_path: Path
) -> None:
    kept = log.store.notes()[0][1]
    witness = Witness("w.example", Ed25519PrivateKey.generate(), _verifier(log), tmp_path / "w")
    honest = log.store
    witness.observe(kept, lambda a, b: merkle.consistency_proof(a, b, perfect_from(honest)))
    first, second = log.state(12), log.state(25)
    log.move(12, 100_000)  # reorder two events
    log.move(25, 12)
    log.move(100_000, 25)
    assert first != second
    rewrite_everything(log)
    report = tree_verify(log, kept)
    assert ("tree_mismatch", 1) in tree_findings(report)  # nothing in the database says where
    catch_up(log.ledger, log.store)
    checkpoint_now(log.ledger, log.store, log.settings)
    newest = log.store.latest_note()
    assert newest is not None
    with pytest.raises(InconsistentLogError, match="fork"):
        witness.observe(
            newest[1], lambda a, b: merkle.consistency_proof(a, b, perfect_from(log.store))
        )


def test_truncating_after_a_checkpoint_is_found_even_with_the_tree_cut(log: Log) -> None:
    size = log.store.notes()[0][0]
    position = _position_of_leaf(log, size - 3)
    newest = list(range(position, log.head() + 1))
    log.delete(*newest)
    log.sql(f"DELETE FROM {log.store.name('audit_chain')} WHERE position >= %s", [position])
    log.sql(f"DELETE FROM {log.store.name('audit_tree')} WHERE level = 0 AND idx >= %s", [size - 3])
    found = tree_findings(tree_verify(log))
    assert found[0] == ("truncated", position)


def test_an_inserted_event_is_found_where_it_was_put(log: Log) -> None:
    kept = log.store.notes()[0][1]
    size = parse_checkpoint(parse_note(kept).body).size
    position = _position_of_leaf(log, 10)
    forged = log.state(position)
    for p in range(log.head(), position - 1, -1):
        log.move(p, p + 1)  # make room (SQLite has no gaps; PostgreSQL the same way here)
    table, column = events_table(log.ledger), log.id_column
    log.sql(
        f"INSERT INTO {table} ({column}, originator_id, originator_version, topic, state)"
        " VALUES (%s, %s, %s, %s, %s)",
        [position, "00000000-0000-0000-0000-00000000002a", 1, "kvit.wallet.credited", forged],
    )
    rewrite_everything(log)
    report = tree_verify(log, kept)
    assert ("tree_mismatch", 1) in tree_findings(report) and size > 0


def test_a_changed_stored_leaf_is_found_at_its_position(log: Log) -> None:
    """The log is intact, but the stored tree that tiles and proofs are served from is not."""
    position = _position_of_leaf(log, 9)
    log.sql(
        f"UPDATE {log.store.name('audit_tree')} SET hash = %s WHERE level = 0 AND idx = 9",
        [bytes(32)],
    )
    report = tree_verify(log)
    assert tree_findings(report) == [("tree_broken", position)]
    assert report.bulk == report.events  # the log itself agrees with its chain


def test_a_changed_stored_node_is_found_where_its_leaves_start(log: Log) -> None:
    world = setup_world(log.ledger, payer_id="payer-nodes", wallet_balance=10_000_000)
    for i in range(70):  # past 256 events: a node at height 8
        pay(log.ledger, world, f"n{i}")
    catch_up(log.ledger, log.store)
    assert tree_verify(log).tree_size > 256
    log.sql(
        f"UPDATE {log.store.name('audit_tree')} SET hash = %s WHERE level = 8 AND idx = 0",
        [bytes(32)],
    )
    assert tree_findings(tree_verify(log)) == [("tree_broken", _position_of_leaf(log, 0))]


def test_a_changed_event_under_a_stored_node_is_not_blamed_on_the_stored_tree(log: Log) -> None:
    """The node recomputed above a changed event differs from the stored one; the stored tree
    is as it was, so the finding is the event's alone (`tree_broken` would point before it)."""
    world = setup_world(log.ledger, payer_id="payer-nodes", wallet_balance=10_000_000)
    for i in range(70):  # past 256 events: a node at height 8 over position 20
        pay(log.ledger, world, f"n{i}")
    catch_up(log.ledger, log.store)
    log.set_state(20, changed_byte(log.state(20)))
    report = tree_verify(log)
    assert report.first is not None and (report.first.kind, report.first.position) == (
        "modified",
        20,
    )
    assert "tree_broken" not in {f.kind for f in report.findings}, report.findings


def test_the_tree_is_not_built_on_a_log_that_no_longer_matches_its_chain(log: Log) -> None:
    log.sql(f"DELETE FROM {log.store.name('audit_tree')}")
    log.set_state(7, changed_byte(log.state(7)))
    with pytest.raises(TreeMismatchError, match="position 7"):
        build_tree(log.ledger, log.store)


def _verifier(log: Log) -> Verifier:
    found = trusted_verifier(log.settings)
    assert found is not None
    return found


def _position_of_leaf(log: Log, index: int) -> int:
    rows = log.sql(
        f"SELECT position FROM {log.store.name('audit_chain')} WHERE seq = %s", [index + 1]
    )
    return int(rows[0][0])
