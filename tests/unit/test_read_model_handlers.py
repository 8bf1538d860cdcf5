"""Read models name their handlers by method (`@applies`), and a subclass keeps its parent's."""

from __future__ import annotations

from ledger.domain import Wallet
from projections.models.base import ReadModel
from projections.models.wallet_balance import WalletBalance
from projections.staged import StagedRows
from storage.log import Logged


def test_each_event_maps_to_the_method_that_applies_it() -> None:
    assert WalletBalance.handles == {
        Wallet.Opened: WalletBalance.opened,
        Wallet.Credited: WalletBalance.credited,
        Wallet.Debited: WalletBalance.debited,
    }


def test_a_subclass_keeps_its_parents_handlers_and_its_own_overrides() -> None:
    class Audited(WalletBalance):
        def credited(self, staged: StagedRows, logged: Logged) -> None:
            super().credited(staged, logged)

    model = Audited()
    assert set(Audited.handles) == set(WalletBalance.handles)
    assert Audited.handles[Wallet.Credited] is Audited.credited
    assert model.handlers[Wallet.Credited.TOPIC] == model.credited
    assert model.topics == WalletBalance().topics


def test_a_model_without_handlers_follows_nothing() -> None:
    class Idle(ReadModel):
        name = "idle"

    assert Idle().topics == frozenset()
