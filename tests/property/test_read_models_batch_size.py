"""The read models do not depend on how the log is cut into chunks: built live in chunks of any
size (each chunk one transaction, rows carried between them) they equal a replay of the whole
log in one chunk (projections/replay_check.py), row for row. On SQLite, over the logs of the
ledger's state machine (tests/property/test_ledger_state_machine.py)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import initialize, invariant

from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from ledger.errors import LedgerError
from ledger.settings import Settings
from projections import models
from projections.projector import Projector
from projections.replay_check import ReplayReport, replay_check
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from tests.fixtures import setup_world, top_up
from tests.property.test_ledger_state_machine import LedgerMachine
from tests.property.test_matching_model import MBill, Model, Run, commands

ONE_CHUNK = 5000


def project_and_replay(ledger: Ledger, directory: Path, batch_size: int) -> ReplayReport:
    """Build the read models live in chunks of `batch_size` positions into a fresh SQLite
    file, then compare them with a one-chunk replay of the same log."""
    ledger_settings = Settings(data_dir=directory, database_url=None)
    read = ReadSettings(sqlite_path=directory / f"read-{batch_size}.sqlite3")
    migrate_read_models(ledger_settings, read)
    store = open_store(ledger_settings, read)
    try:
        live = Projector(ledger, store, models.build(), batch_size=batch_size)
        while live.step().full:
            pass
        live.close()
        return replay_check(ledger, store, batch_size=ONE_CHUNK)
    finally:
        store.close()


def test_a_card_payment_refunded_to_nothing_leaves_the_same_rows_in_any_chunk_size(
    tmp_path: Path,
) -> None:
    """Found by tests/integration/test_audit_replay.py: the bill's matched kopeck, taken back
    by the refunds, was stored as `[0]` when a chunk ended while it was matched, and as `[]`
    (never matched) when one chunk held the whole story."""
    machine = LedgerMachine()
    try:
        supplier, _ = machine.register_suppliers().values
        account = machine.open_account(supplier, "anna")
        wallet = machine.open_wallet("anna")
        machine.issue_bill(account, [1])
        card = machine.create_payment(account, wallet, "card", 2016, True)
        machine.settle_card_payment(card, True)
        machine.create_payment(account, wallet, "wallet", None, True)  # nothing due: refused
        for amount in (648, 971, 111, 286):  # the whole 2016 back
            machine.refund_payment(card, amount)
        head = machine.ledger.recorder.max_notification_id() or 0
        for batch_size in range(1, head + 1):
            report = project_and_replay(machine.ledger, tmp_path, batch_size)
            assert report.identical, (batch_size, report.differences, report.problems)
    finally:
        machine.ledger.close()


@settings(max_examples=40, deadline=None)
@given(steps=commands, batch_size=st.integers(1, 8))
def test_matching_one_account_in_chunks_equals_one_chunk(
    steps: list[object], batch_size: int
) -> None:
    """Matching's own busy case: one account's bills, payments, refunds, notices and
    annulments in any order (tests/property/test_matching_model.py), cut into chunks."""
    ledger = Ledger(in_memory_env())
    directory = Path(tempfile.mkdtemp(prefix="kvit-chunks-"))
    try:
        world = setup_world(ledger, wallet_balance=0)
        top_up(ledger, world.wallet_id, world.payer_id, 10_000_000, key="fund")
        bill = ledger.get_bill(world.bill_id)
        run = Run(ledger, world, Model(), documents={str(world.bill_id): bill.document_id})
        run.model.bills.append(
            MBill(str(world.bill_id), bill.period, 0, [line["amount"] for line in bill.lines])
        )
        for step in steps:
            with contextlib.suppress(LedgerError):
                step(run)  # type: ignore[operator]
        report = project_and_replay(ledger, directory, batch_size)
        assert report.identical, (report.differences, report.problems)
    finally:
        ledger.close()
        shutil.rmtree(directory, ignore_errors=True)


class ChunkedMachine(LedgerMachine):
    """The state machine with the read models following it live: after every step they catch
    up in chunks of a drawn size, as a runner does; at the end, a one-chunk replay equals them."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="kvit-chunks-"))
        ledger_settings = Settings(data_dir=self.tmp, database_url=None)
        read = ReadSettings(sqlite_path=self.tmp / "read.sqlite3")
        migrate_read_models(ledger_settings, read)
        self.store = open_store(ledger_settings, read)
        self.live: Projector | None = None

    @initialize(batch_size=st.integers(1, 12))
    def follow_in_chunks(self, batch_size: int) -> None:
        self.live = Projector(self.ledger, self.store, models.build(), batch_size=batch_size)

    @invariant()
    def the_read_models_catch_up(self) -> None:
        if self.live is not None:
            while self.live.step().full:
                pass

    def teardown(self) -> None:
        try:
            if self.live is not None:
                self.the_read_models_catch_up()
                self.live.close()
                report = replay_check(self.ledger, self.store, batch_size=ONE_CHUNK)
                assert report.identical, (report.differences, report.problems)
        finally:
            self.store.close()
            self.ledger.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


ChunkedMachine.TestCase.settings = settings(
    max_examples=30,  # every example commits a chunk per step: slow on a busy disk
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReadModelsDoNotDependOnChunkSize = ChunkedMachine.TestCase
