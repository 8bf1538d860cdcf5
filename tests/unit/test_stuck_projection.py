"""A read model that cannot apply an event (projections/projector.py, projections/stuck.py):
it stops just before that event, everything before it applied and nothing after, and is
recorded stuck; the other read models go on; a projector with a model that can apply the event
(a fixed version) takes it from there and clears the record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.domain import Wallet
from ledger.settings import Settings
from projections import models
from projections.errors import ReadModelStuckError
from projections.models.wallet_balance import WalletBalance
from projections.projector import Projector
from projections.read_models import ReadModels
from projections.schema import migrate_store
from projections.settings import ReadSettings, open_store
from projections.staged import StagedRows
from projections.stuck import read_stuck
from storage.log import Logged
from storage.sql import Store
from tests.fixtures import setup_world, top_up

POISON = 666


class BuggyWalletBalance(WalletBalance):
    """The wallet model with a bug that meets one event (a credit of 666 kopecks)."""

    def apply(self, staged: StagedRows, logged: Logged) -> None:
        if logged.topic == Wallet.Credited.TOPIC and logged.event.amount == POISON:
            raise RuntimeError(f"a bug meets a credit of {POISON}\x00")
        super().apply(staged, logged)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Settings, Ledger, Store, Any]]:
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    store = open_store(settings, ReadSettings())
    migrate_store(store, models.build())
    yield settings, ledger, store, setup_world(ledger)
    store.close()
    ledger.close()


def the_others() -> list[Any]:
    return [m for m in models.build() if m.name != "wallet_balance"]


def run(projector: Projector) -> None:
    while projector.step().full:
        pass


def balance(store: Store) -> int:
    with store.read() as tx:
        return int(tx.execute(f"SELECT balance FROM {store.name('rm_wallet')}")[0][0])


def test_a_model_stops_before_the_event_it_cannot_apply_and_a_fixed_one_goes_on(
    world: tuple[Settings, Ledger, Store, Any],
) -> None:
    settings, ledger, store, w = world
    for n in range(20):  # enough of its own events before the poison to be halved
        top_up(ledger, w.wallet_id, w.payer_id, 100, key=f"before-{n}")
    top_up(ledger, w.wallet_id, w.payer_id, POISON, key="poison")
    poison = ledger.recorder.max_notification_id()  # the wallet's credit comes last
    top_up(ledger, w.wallet_id, w.payer_id, 200, key="after")
    head = ledger.recorder.max_notification_id()

    buggy = Projector(ledger, store, [BuggyWalletBalance(), *the_others()], batch_size=2000)
    run(buggy)
    assert buggy.positions["wallet_balance"] == poison - 1
    assert {n: p for n, p in buggy.positions.items() if n != "wallet_balance"} == dict.fromkeys(
        [m.name for m in the_others()], head
    )
    assert balance(store) == 20 * 100  # everything before the event, nothing after
    with store.read() as tx:
        stuck = read_stuck(tx)["wallet_balance"]
    assert (stuck.position, stuck.event, stuck.topic) == (poison - 1, poison, Wallet.Credited.TOPIC)
    assert (stuck.error, stuck.detail) == ("RuntimeError", f"a bug meets a credit of {POISON}\\x00")
    top_up(ledger, w.wallet_id, w.payer_id, 300, key="later")
    run(buggy)  # the stuck model stays put; the others follow the log
    assert buggy.positions["wallet_balance"] == poison - 1
    assert buggy.position == ledger.recorder.max_notification_id()

    rm = ReadModels(settings, ledger)  # not started: it only reads
    assert set(rm.stuck()) == {"wallet_balance"}
    with pytest.raises(ReadModelStuckError):  # at once, not after 30 s
        rm.wait_for(head, names=["wallet_balance"], timeout=30)
    on_a_loop = ReadModels(settings, ledger)  # nothing read yet: the wait reads the stuck ones
    with pytest.raises(ReadModelStuckError):
        asyncio.run(on_a_loop.wait_for_async(head, names=["wallet_balance"], timeout=30))
    buggy.close()

    fixed = Projector(ledger, store, models.build(), batch_size=2000)
    run(fixed)
    assert balance(store) == 20 * 100 + POISON + 200 + 300
    assert set(fixed.positions.values()) == {ledger.recorder.max_notification_id()}
    assert rm.stuck() == {}
    fixed.close()
