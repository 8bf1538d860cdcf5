"""Tampering with a stored log, on real PostgreSQL and SQLite: `verify` finds each change at
the right position, and the independent export checker (docs/verify_export.py) agrees."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import IntegrityError, StoredEvent

from audit.chain import catch_up
from audit.encoding import GENESIS, chain_hash
from audit.export import export
from audit.service import checkpoint_now, log_verifier
from audit.signing import AuditSettings, make_checkpoint, trusted_public_key
from audit.store import AuditStore, ChainRow
from audit.verify import VerifyReport, verify
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from storage.log import events_table
from tests.fixtures import setup_world
from tests.integration.log_fixtures import audit_settings, pay

ROOT = Path(__file__).resolve().parents[2]
KEY = "4f" * 32


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_export", ROOT / "docs/verify_export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = load_checker()


@dataclass
class Log:
    """A ledger with a chained, checkpointed history, and raw access to its tables."""

    settings: AuditSettings
    ledger: Ledger
    store: AuditStore
    tmp: Path

    @property
    def postgres(self) -> bool:
        return self.store.postgres

    @property
    def public_key(self) -> str:
        key = trusted_public_key(self.settings)
        assert key is not None
        return key

    def sql(self, statement: str, params: list[Any] | tuple[Any, ...] = ()) -> list[Any]:
        connection = self.store.connect()
        try:
            if not self.postgres:
                statement = statement.replace("%s", "?")
            cursor = connection.execute(statement, tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            if not self.postgres:
                connection.commit()
            return rows
        finally:
            connection.close()

    @property
    def id_column(self) -> str:
        return "notification_id" if self.postgres else "rowid"

    def state(self, position: int) -> bytes:
        table, col = events_table(self.ledger), self.id_column
        return bytes(self.sql(f"SELECT state FROM {table} WHERE {col} = %s", [position])[0][0])

    def set_state(self, position: int, state: bytes) -> None:
        table, col = events_table(self.ledger), self.id_column
        self.sql(f"UPDATE {table} SET state = %s WHERE {col} = %s", [state, position])

    def delete(self, *positions: int) -> None:
        table, col = events_table(self.ledger), self.id_column
        for position in positions:
            self.sql(f"DELETE FROM {table} WHERE {col} = %s", [position])

    def move(self, old: int, new: int) -> None:
        table, col = events_table(self.ledger), self.id_column
        self.sql(f"UPDATE {table} SET {col} = %s WHERE {col} = %s", [new, old])

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def verify(self, *files: Path) -> VerifyReport:
        checkpoints = self.store.checkpoints()
        for path in files:
            checkpoints += [json.loads(path.read_text())]
        return verify(
            self.ledger,
            self.store,
            checkpoints=checkpoints,
            public_key=self.public_key,
            notes=[text for _, text in self.store.notes()],
            verifier=log_verifier(self.settings),
        )

    def check_export(self, name: str = "export") -> dict[str, Any]:
        directory = self.tmp / name
        export(self.ledger, self.store, directory)
        result: dict[str, Any] = checker.check(directory, self.public_key)
        return result


def findings(report: VerifyReport) -> list[tuple[str, int]]:
    return [(f.kind, f.position) for f in report.findings]


def per_event(report: VerifyReport) -> list[tuple[str, int]]:
    """The findings about single positions (a checkpoint after them disagrees too)."""
    later = ("checkpoint_mismatch", "tree_mismatch")
    return [(k, p) for k, p in findings(report) if k not in later]


def agree(log: Log, report: VerifyReport) -> None:
    """The independent checker finds the same things at the same positions."""
    exported = log.check_export()
    assert [(f["kind"], f["position"]) for f in exported["findings"]] == findings(report)


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    settings = audit_settings(request, KEY)
    ledger = build_ledger(settings)
    store = AuditStore.open(settings)
    world = setup_world(ledger, wallet_balance=1_000_000)
    for i in range(10):
        pay(ledger, world, f"p{i}", 100 + i)
    checkpoint_now(ledger, store, settings)  # ~45 events, signed
    for i in range(10, 13):
        pay(ledger, world, f"p{i}")
    catch_up(ledger, store)
    yield Log(settings, ledger, store, tmp_path)
    store.close()
    ledger.close()


def test_an_untouched_log_verifies_clean_and_the_export_checker_agrees(log: Log) -> None:
    (log.tmp / "kept.json").write_text(json.dumps(log.store.checkpoints()[0]))
    report = log.verify(log.tmp / "kept.json")
    assert report.clean, report.findings
    assert report.events == log.head() and report.chain_head == log.head()
    assert report.checkpoints == 1  # the same checkpoint, from the table and from the file
    result = log.check_export()
    assert result["findings"] == [] and result["problems"] == []
    assert result["events"] == report.events and sum(result["balances"].values()) == 0


def changed_byte(state: bytes) -> bytes:
    """The state with one digit of its timestamp changed (still valid JSON)."""
    changed = bytearray(state)
    at = changed.index(b"+00:00") - 1  # the last digit of the microseconds
    assert chr(changed[at]).isdigit(), state
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    return bytes(changed)


def test_one_changed_byte_of_a_stored_event_is_found_at_its_position(log: Log) -> None:
    log.set_state(20, changed_byte(log.state(20)))
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("modified", 20)
    agree(log, report)


def test_a_deleted_event_in_the_middle_is_found_at_its_position(log: Log) -> None:
    log.delete(17)
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("deleted", 17)
    agree(log, report)


def test_deleting_the_newest_events_after_a_checkpoint_is_found(log: Log) -> None:
    checkpoint = log.store.checkpoints()[0]["position"]
    newest = list(range(checkpoint - 2, log.head() + 1))
    log.delete(*newest)
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("deleted", checkpoint - 2)
    agree(log, report)
    # The attacker deletes the chain rows too: the signed checkpoint still knows the count.
    log.sql(f"DELETE FROM {log.store.name('audit_chain')} WHERE position >= %s", [newest[0]])
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("truncated", checkpoint - 2)
    agree(log, report)


def test_two_swapped_events_are_found_at_the_first_of_them(log: Log) -> None:
    log.move(12, 10_000)
    log.move(25, 12)
    log.move(10_000, 25)
    report = log.verify()
    assert per_event(report) == [("moved", 12), ("moved", 25)]
    agree(log, report)


def test_states_swapped_between_two_rows_are_found_at_the_first_row(log: Log) -> None:
    first, second = log.state(14), log.state(30)
    log.set_state(14, second)
    log.set_state(30, first)
    report = log.verify()
    assert per_event(report) == [("modified", 14), ("modified", 30)]
    agree(log, report)


def test_a_forged_event_slipped_into_the_history_is_found_where_it_was_put(log: Log) -> None:
    forged = StoredEvent(
        UUID(int=42), 1, "kvit.wallet.credited", b'{"timestamp":"2020-01-01T00:00:00+00:00"}'
    )
    if log.postgres:
        # A failed insert burns a sequence value: ids are not gap-free. Forge into that gap.
        existing = log.ledger.recorder.select_notifications(start=1, limit=1)[0]
        burnt = log.head() + 1
        with pytest.raises(IntegrityError):
            log.ledger.recorder.insert_events(
                [StoredEvent(existing.originator_id, 1, existing.topic, existing.state)]
            )
        world = setup_world(log.ledger, payer_id="payer-2")  # more history after the gap
        assert world is not None
        catch_up(log.ledger, log.store)
        log.sql(
            f"INSERT INTO {events_table(log.ledger)} (originator_id, originator_version, topic,"
            " state, notification_id) VALUES (%s, %s, %s, %s, %s)",
            [forged.originator_id, 1, forged.topic, forged.state, burnt],
        )
        report = log.verify()
        assert report.first is not None
        assert (report.first.kind, report.first.position) == ("inserted", burnt)
    else:
        # No gaps in SQLite: the forger renumbers the newer rows to make room at position 31.
        for position in range(log.head(), 30, -1):
            log.move(position, position + 1)
        log.sql(
            f"INSERT INTO {events_table(log.ledger)} (rowid, originator_id, originator_version,"
            " topic, state) VALUES (%s, %s, %s, %s, %s)",
            [31, forged.originator_id.hex, 1, forged.topic, forged.state],
        )
        report = log.verify()
        assert report.first is not None
        assert report.first.position == 31 and report.first.kind in ("inserted", "modified")
    agree(log, report)


def test_a_history_rewritten_with_its_chain_table_is_caught_by_the_kept_checkpoint(
    log: Log,
) -> None:
    kept = log.tmp / "kept.json"
    kept.write_text(json.dumps(log.store.checkpoints()[0]))
    log.set_state(9, changed_byte(log.state(9)))
    # The attacker recomputes every chain row from the log, and drops the stored checkpoints.
    chain = log.store.name("audit_chain")
    for table in ("audit_tree", "audit_note", "audit_checkpoint"):
        log.sql(f"DELETE FROM {log.store.name(table)}")
    log.sql(f"DELETE FROM {chain}")
    catch_up(log.ledger, log.store)
    assert log.verify().clean  # nothing left in the database contradicts it...
    report = log.verify(kept)  # ...but the checkpoint the auditor kept does
    assert findings(report) == [("checkpoint_mismatch", 1)]
    exported = log.tmp / "export"
    export(log.ledger, log.store, exported)
    result = checker.check(exported, log.public_key, [kept])
    assert [(f["kind"], f["position"]) for f in result["findings"]] == findings(report)


def test_an_edited_chain_row_and_a_forged_checkpoint_are_reported(log: Log) -> None:
    chain = log.store.name("audit_chain")
    row = log.store.chain_row(5)
    assert row is not None
    log.sql(f"UPDATE {chain} SET chain_hash = %s WHERE position = 5", [b"\x00" * 32])
    stranger = Ed25519PrivateKey.generate()
    forged = make_checkpoint(stranger, ChainRow(log.head(), 999, "", b"", chain_hash(GENESIS, b"")))
    forged_file = log.tmp / "forged.json"
    forged_file.write_text(json.dumps(forged))
    report = log.verify(forged_file)
    assert ("chain_broken", 5) in findings(report)
    assert ("bad_signature", log.head()) in findings(report)


def test_a_database_is_not_an_export_target_it_is_only_read(log: Log) -> None:
    before = log.sql(f"SELECT COUNT(*) FROM {log.store.name('audit_chain')}")
    log.check_export()
    log.verify()
    assert log.sql(f"SELECT COUNT(*) FROM {log.store.name('audit_chain')}") == before


def test_postgres_tables_are_where_the_notes_say(log: Log) -> None:
    if log.postgres:
        with psycopg.connect(log.settings.database_url or "") as connection:
            tables = {
                name
                for (name,) in connection.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [log.settings.database_schema],
                )
            }
        assert {"kvit_events", "audit_chain", "audit_checkpoint"} <= tables


def test_a_follower_goes_on_from_its_own_head_on_one_kept_connection(log: Log) -> None:
    world = setup_world(log.ledger, payer_id="payer-follow", wallet_balance=100_000)
    log.store.keep_writer = True
    done = catch_up(log.ledger, log.store)
    first = log.store._writer
    assert first is not None  # opened by the first batch, kept for the next
    pay(log.ledger, world, "follow-1")
    done = catch_up(log.ledger, log.store, known=done)
    assert log.store._writer is first

    # Another follower (a standby that took over for a moment) appends meanwhile: the head
    # this one remembers is stale, and its compare-and-set must notice, not fork the chain.
    other = AuditStore.open(log.settings)
    try:
        pay(log.ledger, world, "follow-2")
        catch_up(log.ledger, other)
    finally:
        other.close()
    pay(log.ledger, world, "follow-3")
    done = catch_up(log.ledger, log.store, known=done)

    assert done.head is not None and done.head.position == log.head()
    report = log.verify()
    assert report.clean, report.findings
    assert report.chain_head == log.head()
