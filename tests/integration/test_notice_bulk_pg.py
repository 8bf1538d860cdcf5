"""A register decided in bulk against copies another process has since made stale, and in
the writer process.

Two Ledgers on one PostgreSQL schema stand for two processes (an import beside `kvit serve`).
A bulk batch reads the aggregate cache unchecked; what it decided on a stale copy must be
decided again on the store, whether the batch wrote something (its save fails) or nothing (a
version query catches it). An API worker's register goes to the writer, which decides it in
bulk there and sends each line's answer back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine.channel import WriterClient
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.importer import import_register
from ledger.notices.line import COLUMNS, NoticeLine
from ledger.registry.commands import ChangeSupplierRequisites
from ledger.settings import Settings
from tests.fixtures import ACCOUNT_NUMBER, INN, REQUISITES, World, setup_world
from tests.integration.test_writer import start_writer

BANK = "044525225"
NEW_ACCOUNT = "40702810838250123016"  # a valid key for the БИК


def line(n: int, **changes: object) -> NoticeLine:
    base = NoticeLine(
        line_no=n,
        order_id=f"1{BANK}{n:022d}",
        order_date=date(2026, 3, 15),
        action="",
        amount=1000,
        recipient_inn=INN,
        bik=REQUISITES["bik"],
        settlement_account=REQUISITES["settlement_account"],
        account_number=ACCOUNT_NUMBER,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def two(pg_settings: Settings) -> Iterator[tuple[Ledger, Ledger, World]]:
    first, second = build_ledger(pg_settings), build_ledger(pg_settings)
    world = setup_world(first)
    yield first, second, world
    first.close()
    second.close()


def test_a_rejection_on_a_stale_supplier_is_decided_again_on_the_store(
    two: tuple[Ledger, Ledger, World],
) -> None:
    first, second, world = two
    [warm] = first.execute_batch([ReceiveNotice(bank_bik=BANK, line=line(1))])  # caches all
    assert warm.outcome is not None
    second.execute(
        ChangeSupplierRequisites.parse(
            supplier_id=world.supplier_id,
            requisites=REQUISITES | {"settlement_account": NEW_ACCOUNT},
            idempotency_key="new-account",
        )
    )

    # The cached supplier still has the old account: the line looks wrong, and the batch
    # writes nothing that a save could check.
    [item] = first.execute_batch(
        [ReceiveNotice(bank_bik=BANK, line=line(2, settlement_account=NEW_ACCOUNT))]
    )

    assert item.error is None, item.error
    assert item.outcome is not None and item.outcome.result["outcome"] == "accepted"
    assert second.get_account(world.account_id).paid == 2000


def test_a_batch_on_an_account_another_process_moved_is_rerun_and_counts_both(
    two: tuple[Ledger, Ledger, World],
) -> None:
    first, second, world = two
    first.execute_batch([ReceiveNotice(bank_bik=BANK, line=line(1))])  # caches the account
    second.execute_batch([ReceiveNotice(bank_bik=BANK, line=line(2))])  # moves it on

    items = first.execute_batch(
        [
            ReceiveNotice(bank_bik=BANK, line=line(3)),
            ReceiveNotice(bank_bik=BANK, line=line(2)),  # the other process's: a duplicate
            AnnulNotice(bank_bik=BANK, order_id=line(1).order_id, annul_date="2026-03-20"),
        ]
    )

    outcomes = [i.outcome.result["outcome"] for i in items if i.outcome is not None]
    assert outcomes == ["accepted", "duplicate", "annulled"]
    account = second.get_account(world.account_id)
    assert account.paid == 2000  # 1 and 2 and 3, less 1 annulled
    assert first.get_account(world.account_id).version == account.version
    assert UUID(items[0].outcome.result["account_id"]) == world.account_id  # type: ignore[union-attr]


def test_a_register_sent_through_the_writer_gets_each_lines_answer_back(
    pg_settings: Settings, tmp_path: Path
) -> None:
    writer_app = build_ledger(pg_settings)
    world = setup_world(writer_app)
    running = start_writer(writer_app, tmp_path / "writer.sock")
    worker = build_ledger(pg_settings)
    worker.use_writer(WriterClient(tmp_path / "writer.sock", timeout=30))
    try:
        rows = [
            {
                "order_id": line(n).order_id,
                "order_date": "15.03.2026",
                "amount": "10,00",
                "recipient_inn": INN,
                "account_number": ACCOUNT_NUMBER if n % 3 else "NO-SUCH",
            }
            for n in (1, 2, 3, 1)  # the third names no account; the fourth is the first again
        ]
        text = "".join(";".join(row.get(name, "") for name in COLUMNS) + "\n" for row in rows)
        register = (";".join(COLUMNS) + "\n" + text).encode()
        summary = import_register(worker, io.BytesIO(register), bank_bik=BANK)
    finally:
        worker.close()
        running.stop()
        writer_app.close()

    assert (summary.accepted, summary.rejected, summary.duplicates) == (2, 1, 1), summary.rejects
    assert summary.rejects[0].code == "unknown_account"
    check = build_ledger(pg_settings)
    try:
        assert check.get_account(world.account_id).paid == 2000
    finally:
        check.close()
