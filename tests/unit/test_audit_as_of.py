"""As-of balances, recomputed from the log, equal the model's balances at that point in time:
random command sequences, random points (by log position and by time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.encoding import timestamp_of
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from projections import as_of
from tests.unit.test_projections_model import LedgerModel, commands, run_commands, set_up


def snapshot(model: LedgerModel) -> dict[str, Any]:
    return {
        "accounts": [model.expected_account(i) for i in range(len(model.accounts))],
        "wallets": dict(model.wallet_balance),
        "ledger": dict(model.ledger),
    }


def record_history(
    ledger: Ledger, steps: list[Any]
) -> tuple[LedgerModel, dict[int, dict[str, Any]]]:
    """Run the steps one by one; the model's expectations after each, by log position."""
    model = set_up(ledger)
    points = {run_commands(ledger, model, []): snapshot(model)}
    for step in steps:
        position = run_commands(ledger, model, [step])  # first: `d[f()] = g()` runs g first
        points[position] = snapshot(model)
    return model, points


def check_point(
    ledger: Ledger,
    store: AuditStore | None,
    model: LedgerModel,
    position: int,
    expected: dict[str, Any],
) -> None:
    for index, account_id in enumerate(model.accounts):
        got = as_of.account_as_of(ledger, store, account_id, position)
        want = expected["accounts"][index]
        assert got is not None and got.as_of == position
        assert {k: getattr(got, k) for k in ("accrued", "paid", "refunded", "due", "advance")} == {
            k: v for k, v in want.items() if k != "bills"
        }
        assert {b.bill_id: (b.paid, b.status) for b in got.bills} == want["bills"]
    for wallet_id, balance in expected["wallets"].items():
        wallet = as_of.wallet_as_of(ledger, store, wallet_id, position)
        assert wallet is not None and wallet.balance == balance
    for name in model.ledger:
        got_account = as_of.ledger_account_as_of(ledger, name, position)
        assert got_account.balance == expected["ledger"].get(name, 0), name


def moment_of(ledger: Ledger, position: int) -> datetime:
    """The time of the event at `position`."""
    (here,) = ledger.recorder.select_notifications(start=position, limit=1)
    return datetime.fromisoformat(timestamp_of(here.state).replace("Z", "+00:00"))


def prefix_at(ledger: Ledger, moment: datetime) -> int:
    """By brute force: the end of the longest log prefix with every event at or before it."""
    text, last = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), 0
    for notification in ledger.recorder.select_notifications(start=1, limit=10**6):
        if timestamp_of(notification.state) > text:
            break
        last = notification.id
    return last


def check_history(
    ledger: Ledger, store: AuditStore | None, steps: list[Any], picks: list[int]
) -> None:
    model, points = record_history(ledger, steps)
    positions = sorted(points)
    for pick in picks:
        position = positions[pick % len(positions)]
        check_point(ledger, store, model, position, points[position])
        moment = moment_of(ledger, position)
        assert as_of.resolve(ledger, store, at=moment) == prefix_at(ledger, moment)
        assert as_of.resolve(ledger, store, position=position) == position


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(commands, min_size=5, max_size=40),
    picks=st.lists(st.integers(0, 10**6), min_size=3, max_size=6),
)
def test_as_of_balances_equal_the_model_at_random_points(steps, picks) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(in_memory_env())
    try:
        check_history(ledger, None, steps, picks)
    finally:
        ledger.close()


def test_an_account_before_it_was_opened_is_not_there() -> None:
    ledger = Ledger(in_memory_env())
    try:
        model = set_up(ledger)
        assert as_of.account_as_of(ledger, None, model.accounts[0], 1) is None
        assert as_of.parse_as_of("17") == (17, None)
        position, moment = as_of.parse_as_of("2026-03-01T00:00:00+03:00")
        assert position is None and moment is not None and moment.utcoffset() is not None
    finally:
        ledger.close()
