"""The supplier register on a real PostgreSQL: for every day, its totals are the sum of its
lines and equal the trial balance's movements of that supplier's payable accounts on that day
(Europe/Moscow), and the matching model rebuilds identically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.payments.commands import CreatePayment, RefundPayment
from ledger.registry.commands import OpenAccount, RegisterSupplier
from ledger.settings import Settings
from projections import day_report, models
from projections.projector import Projector
from projections.read_models import ReadModels
from projections.replay_check import replay_check
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from projections.shadow import compare_with_shadow
from storage.sql import Store
from tests.fixtures import (
    ACCOUNT_NUMBER,
    DOCUMENT_ID,
    INN,
    KPP,
    OTHER_INN,
    REQUISITES,
    setup_world,
)

pytestmark = pytest.mark.postgres
SBER, OTHER_BANK = "044525225", "044525974"
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def pg(pg_settings: Settings) -> Iterator[tuple[Ledger, Store, ReadModels]]:
    migrate_read_models(pg_settings)
    ledger = build_ledger(pg_settings)
    store = open_store(pg_settings, ReadSettings())
    rm = ReadModels(pg_settings, ledger).start()
    yield ledger, store, rm
    rm.close()
    store.close()
    ledger.close()


def notice(bank: str, n: int, amount: int, **changes: object) -> ReceiveNotice:
    fields: dict[str, object] = {
        "line_no": n,
        "order_id": f"1{bank}{n:022d}",
        "order_date": date(2026, 3, 15),
        "action": "",
        "amount": amount,
        "commission": amount // 50,
        "recipient_inn": INN,
        "recipient_kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
        "account_number": ACCOUNT_NUMBER,
        **changes,
    }
    return ReceiveNotice(bank_bik=bank, line=NoticeLine(**fields))  # type: ignore[arg-type]


def payable_movements_by_day(ledger: Ledger, store: Store, supplier_id: str) -> dict[str, int]:
    """Credit put on the supplier's payable accounts per Moscow day, from the trial balance's
    posting journal and the event store's own timestamps."""
    day_of: dict[int, str] = {}
    for n in ledger.recorder.select_notifications(start=1, limit=100_000):
        event = ledger.mapper.to_domain_event(n)
        day_of[n.id] = event.timestamp.astimezone(MOSCOW).date().isoformat()
    totals: dict[str, int] = {}
    with store.read() as tx:
        rows = tx.execute(
            f"SELECT position, amount FROM {store.name('rm_posting')} WHERE account LIKE %s",
            [f"payable:{supplier_id}:%"],
        )
    for position, amount in rows:
        totals[day_of[position]] = totals.get(day_of[position], 0) - amount
    return totals


def test_register_totals_are_its_lines_and_the_trial_balance_payable_movements(pg) -> None:  # type: ignore[no-untyped-def]
    ledger, store, rm = pg
    world = setup_world(ledger, wallet_balance=2_000_000)
    other = ledger.execute(
        RegisterSupplier.parse(
            inn=OTHER_INN, kpp=KPP, name="РСО", requisites=REQUISITES, idempotency_key="s2"
        )
    )
    other_account = ledger.execute(
        OpenAccount.parse(
            supplier_id=UUID(other.result["supplier_id"]),
            account_number="77-1",
            address="кв. 2",
            idempotency_key="a2",
        )
    )
    paid = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            method="wallet",
            idempotency_key="p1",
            account_id=world.account_id,
            document_id=DOCUMENT_ID,
            amount=300_000,
            wallet_id=world.wallet_id,
            confirm=True,
        )
    )
    ledger.execute(
        CreatePayment.parse(  # another supplier's money: not in this register
            payer_id=world.payer_id,
            method="wallet",
            idempotency_key="p2",
            account_id=UUID(other_account.result["account_id"]),
            amount=5_000,
            wallet_id=world.wallet_id,
            confirm=True,
        )
    )
    ledger.execute(
        RefundPayment(payment_id=UUID(paid.result["id"]), amount=10_000, idempotency_key="r")
    )
    ledger.execute(notice(SBER, 1, 200_000))
    ledger.execute(notice(SBER, 2, 50_000, document_id=DOCUMENT_ID, account_number=None))
    ledger.execute(notice(OTHER_BANK, 3, 70_000, period="2026-03"))
    ledger.execute(AnnulNotice(bank_bik=SBER, order_id=f"1{SBER}{2:022d}", annul_date="2026-03-20"))

    projector = Projector(ledger, store, models.build(), batch_size=3, announce=rm.watcher.advance)
    while projector.step().full:
        pass
    projector.close()
    rm.wait_for(ledger.recorder.max_notification_id() or 0)

    supplier_id = str(world.supplier_id)
    expected = payable_movements_by_day(ledger, store, supplier_id)
    assert expected, "the day's postings were found"
    seen_receipts: set[str] = set()
    for day, movement in expected.items():
        found = day_report.day_report(rm, supplier_id, day)
        totals = found.totals
        assert totals.net == movement
        assert totals.count == len(found.entries)
        for kind in ("received", "refunded", "annulled"):
            lines = sum(e.amount for e in found.entries if e.movement == kind)
            assert getattr(totals, kind) == lines
            assert sum(getattr(t, kind) for t in found.by_channel.values()) == lines
        assert totals.commission == sum(e.commission for e in found.entries)
        assert all(e.receipt.supplier_id == supplier_id for e in found.entries)
        seen_receipts |= {e.receipt.receipt_id for e in found.entries}
    # Every movement of the supplier is on exactly one day's register.
    assert len(seen_receipts) == 4
    everything = [day_report.day_report(rm, supplier_id, d) for d in expected]
    assert sum(r.totals.received for r in everything) == 300_000 + 200_000 + 50_000 + 70_000
    assert sum(r.totals.refunded for r in everything) == 10_000
    assert sum(r.totals.annulled for r in everything) == 50_000
    assert sum(r.totals.commission for r in everything) == 4_000 + 1_000 + 1_400
    channels = {c for r in everything for c in r.by_channel}
    assert channels == {SBER, OTHER_BANK, "wallet"}
    statuses = {
        e.receipt.order_id or e.receipt.method: e.receipt.match_status
        for r in everything
        for e in r.entries
    }
    assert statuses == {
        "wallet": "matched",  # named the bill, and the bill took all of it
        # Named nothing, so it comes after the named ones: the bill had 163,417 left for it.
        f"1{SBER}{1:022d}": "partially_matched",
        f"1{SBER}{2:022d}": "annulled",
        f"1{OTHER_BANK}{3:022d}": "matched",  # named the period: that period's bill
    }
    by_order = {e.receipt.order_id: e.receipt for r in everything for e in r.entries}
    assert (by_order[f"1{SBER}{1:022d}"].matched, by_order[f"1{SBER}{1:022d}"].advance) == (
        163_417,
        36_583,
    )
    # A rebuild of every model equals the live tables.
    assert compare_with_shadow(ledger, store).identical
    # The auditors' replay: the log's postings (the notices' too) give the live trial balance.
    replayed = replay_check(ledger, store)
    assert replayed.problems == []
    assert replayed.trial_from_log == replayed.trial_live
    assert any(name.startswith("bank:") or "clearing" in name for name in replayed.trial_live)
