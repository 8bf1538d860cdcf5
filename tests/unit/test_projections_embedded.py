"""The read side in embedded mode (SQLite): read-your-writes, queries, rebuild and audit."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment, OpenWallet, RefundPayment
from ledger.settings import Settings
from projections import matching, queries
from projections.errors import InvalidCursorError, InvalidQueryError, ReadModelTimeoutError
from projections.models import account_balance
from projections.read_models import ReadModels
from projections.rebuild import rebuild
from projections.shadow import compare_with_shadow
from tests.fixtures import World, setup_world, top_up, wallet_payment


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[tuple[Ledger, ReadModels, World]]:
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    rm = ReadModels(settings, ledger).start()
    world = setup_world(ledger, wallet_balance=10_000_000)
    yield ledger, rm, world
    rm.close()
    ledger.close()


def pay(ledger: Ledger, world: World, key: str, amount: int = 1000, **extra: object) -> UUID:
    outcome = ledger.execute(wallet_payment(world, key, amount=amount, **extra))
    return UUID(outcome.result["id"])


def test_each_writer_reads_its_own_payment_at_once_under_concurrent_writers(sqlite) -> None:  # type: ignore[no-untyped-def]
    ledger, rm, world = sqlite
    misses: list[str] = []

    def writer(n: int) -> None:
        payer = f"payer-w{n}"
        wallet_id = UUID(
            ledger.execute(OpenWallet(payer_id=payer, idempotency_key="w")).result["wallet_id"]
        )
        top_up(ledger, wallet_id, payer, 10_000, key=f"t{n}")
        for i in range(15):
            outcome = ledger.execute(
                CreatePayment.parse(
                    payer_id=payer,
                    method="wallet",
                    idempotency_key=f"p{i}",
                    account_id=world.account_id,
                    wallet_id=wallet_id,
                    amount=100,
                    confirm=True,
                )
            )
            rm.wait_for(outcome.position)  # what the API does before answering a write
            page = queries.payment_history(rm, payer_id=payer, limit=200)
            if [e.payment_id for e in page.items[:1]] != [outcome.result["id"]] or len(
                page.items
            ) != i + 1:
                misses.append(f"history of {payer} misses {outcome.result['id']}")
            wallet = queries.wallet_balance(rm, wallet_id)
            if wallet is None or wallet.balance != 10_000 - 100 * (i + 1):
                misses.append(
                    f"wallet of {payer} shows {wallet and wallet.balance} after payment {i}"
                )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert misses == []
    account = queries.account_balance(
        rm, world.account_id, min_position=ledger.recorder.max_notification_id()
    )
    assert account is not None and account.paid == 6 * 15 * 100


def test_a_read_with_min_position_waits_for_it_and_a_lagging_one_times_out_by_name(sqlite) -> None:  # type: ignore[no-untyped-def]
    ledger, rm, world = sqlite
    payment_id = pay(ledger, world, "p1")
    position = ledger.recorder.max_notification_id()
    entry = queries.payment(rm, payment_id, min_position=position)
    assert entry is not None and entry.status == "succeeded"
    started = time.monotonic()
    with pytest.raises(ReadModelTimeoutError) as raised:
        rm.wait_for(position + 1000, timeout=0.05)
    assert time.monotonic() - started < 0.5
    assert raised.value.data["position"] == position + 1000


def test_history_filters_pages_and_cursors(sqlite) -> None:  # type: ignore[no-untyped-def]
    ledger, rm, world = sqlite
    before = datetime.now(UTC)
    with_bill = pay(ledger, world, "bill", document_id="70АА000560-01-6103")
    plain = [pay(ledger, world, f"p{i}") for i in range(4)]
    card = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            method="card",
            idempotency_key="card",
            account_id=world.account_id,
            amount=500,
            confirm=True,
        )
    )
    ledger.execute(RefundPayment(payment_id=plain[0], amount=1000, idempotency_key="refund"))
    rm.wait_for(ledger.recorder.max_notification_id())

    first = queries.payment_history(rm, payer_id=world.payer_id, limit=2)
    assert [e.payment_id for e in first.items] == [card.result["id"], str(plain[3])]
    rest = queries.payment_history(rm, payer_id=world.payer_id, limit=50, cursor=first.next_cursor)
    assert [e.payment_id for e in rest.items] == [str(p) for p in (*plain[2::-1], with_bill)]
    assert rest.next_cursor is None

    by_period = queries.payment_history(rm, account_id=world.account_id, period="2026-03")
    assert [e.payment_id for e in by_period.items] == [str(with_bill)]
    refunded = queries.payment_history(rm, supplier_id=world.supplier_id, statuses=["refunded"])
    assert [(e.payment_id, e.refunded) for e in refunded.items] == [(str(plain[0]), 1000)]
    processing = queries.payment_history(rm, payer_id=world.payer_id, statuses=["processing"])
    assert [e.method for e in processing.items] == ["card"]
    window = queries.payment_history(
        rm, payer_id=world.payer_id, created_from=before, created_before=before + timedelta(hours=1)
    )
    assert len(window.items) == 6
    assert queries.payment_history(rm, payer_id=world.payer_id, created_before=before).items == ()

    with pytest.raises(InvalidCursorError):
        queries.payment_history(
            rm, payer_id=world.payer_id, statuses=["failed"], cursor=first.next_cursor
        )
    with pytest.raises(InvalidCursorError):
        queries.payment_history(rm, payer_id=world.payer_id, cursor="not-a-cursor")
    with pytest.raises(InvalidQueryError):
        queries.payment_history(rm, payer_id=world.payer_id, account_id=world.account_id)
    with pytest.raises(InvalidQueryError):
        queries.payment_history(rm, payer_id=world.payer_id, limit=10_000)


def test_balances_trial_balance_and_as_of_position(sqlite) -> None:  # type: ignore[no-untyped-def]
    ledger, rm, world = sqlite
    pay(ledger, world, "a", amount=600_000)  # more than the bill: the rest is an advance
    middle = ledger.recorder.max_notification_id()
    top_up(ledger, world.wallet_id, world.payer_id, 5000, key="more")
    end = ledger.recorder.max_notification_id()
    account = queries.account_balance(rm, world.account_id, min_position=end)
    assert account is not None
    assert (account.accrued, account.paid, account.due, account.advance) == (
        523417,
        600000,
        0,
        76583,
    )
    assert [(b.status, b.paid) for b in account.bills] == [("paid", 523417)]
    assert account.payer_ids == (world.payer_id,)
    assert [a.account_id for a in queries.accounts_of_payer(rm, world.payer_id)] == [
        str(world.account_id)
    ]
    assert queries.wallet_balance(rm, world.wallet_id).balance == 10_000_000 - 600_000 + 5000  # type: ignore[union-attr]
    now, then = queries.trial_balance(rm), queries.trial_balance(rm, as_of=middle)
    assert now.total == 0 and then.total == 0
    assert now.totals["acquirer"] == 10_005_000 and then.totals["acquirer"] == 10_000_000
    assert queries.account_balance(rm, UUID(int=0)) is None


def test_rebuild_equals_live_then_swaps_in_and_live_updates_resume(sqlite) -> None:  # type: ignore[no-untyped-def]
    ledger, rm, world = sqlite
    for i in range(30):
        pay(ledger, world, f"p{i}", amount=10_000 + i)
    rm.wait_for(ledger.recorder.max_notification_id())
    assert compare_with_shadow(ledger, rm.store).identical
    before = queries.account_balance(rm, world.account_id)
    report = rebuild(ledger, rm.store, batch_size=7)
    assert report.swapped and report.position == ledger.recorder.max_notification_id()
    assert queries.account_balance(rm, world.account_id) == before
    pay(ledger, world, "after", amount=1)
    rm.wait_for(ledger.recorder.max_notification_id())
    assert queries.account_balance(rm, world.account_id).paid == before.paid + 1  # type: ignore[union-attr]
    assert compare_with_shadow(ledger, rm.store).identical


def test_a_rebuild_matches_and_allocates_each_account_once_whatever_its_batches(
    sqlite, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Matching and the bill allocation derive an account's rows from its whole history: a
    rebuild derives them once per account at the end, not again in every batch."""
    ledger, rm, world = sqlite
    for i in range(30):
        pay(ledger, world, f"p{i}", amount=10_000 + i)
    rm.wait_for(ledger.recorder.max_notification_id())
    calls: Counter[str] = Counter()
    for module, name in ((matching, "match"), (account_balance, "allocate")):
        original = getattr(module, name)

        def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls[_name] += 1
            return _original(*args)

        monkeypatch.setattr(module, name, counted)
    report = rebuild(ledger, rm.store, batch_size=7)
    assert report.events > 30 * 3  # many batches, one account
    assert calls == {"match": 1, "allocate": 1}
    assert compare_with_shadow(ledger, rm.store).identical
