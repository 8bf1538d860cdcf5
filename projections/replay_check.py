"""`kvit audit replay`: rebuild every read model from the log beside the live ones, compare
them row by row (projections/shadow.py), and check the trial balance against the log itself.

The trial-balance check does not use the read models' code at all: it sums the postings that
the log's money-moving events carry, up to the position the comparison was made at, and
compares them with the live posting journal at that position; both must also sum to zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from ledger.domain.postings import postings_of
from projections import models, queries
from projections.as_of import POSTING_TOPICS, _Reader
from projections.rebuild import Progress
from projections.shadow import ShadowCompareError, ShadowReport, compare_with_shadow
from storage.log import iter_events
from storage.sql import Store

SCAN_BATCH = 5000


@dataclass
class ReplayReport:
    reports: list[ShadowReport]
    position: int
    events: int
    trial_from_log: dict[str, int]
    trial_live: dict[str, int]
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def differences(self) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
        merged: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        for report in self.reports:
            merged.update(report.differences)
        return merged

    @property
    def identical(self) -> bool:
        return not self.differences and not self.problems

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def log_trial_balance(app: Application[UUID], upto: int) -> dict[str, int]:
    """Every ledger account's balance from the postings in the log up to `upto`."""
    balances: dict[str, int] = {}
    for _, event in iter_events(app, stop=upto, topics=POSTING_TOPICS, batch=SCAN_BATCH):
        for posting in postings_of(event):
            balances[posting["account"]] = balances.get(posting["account"], 0) + posting["amount"]
    return dict(sorted(balances.items()))


def replay_check(
    app: Application[UUID],
    store: Store,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> ReplayReport:
    started = time.perf_counter()
    try:
        reports = [compare_with_shadow(app, store, batch_size=batch_size, progress=progress)]
        trial = reports[0]
    except ShadowCompareError:  # the runners are at different positions: one read model at a time
        reports = [
            compare_with_shadow(app, store, names=[name], batch_size=batch_size, progress=progress)
            for name in models.NAMES
        ]
        trial = reports[models.NAMES.index("trial_balance")]
    position = trial.position
    from_log = log_trial_balance(app, position)
    live_tb = queries.trial_balance(_Reader(store), as_of=position)
    live = {a.account: a.balance for a in live_tb.accounts}
    report = ReplayReport(
        reports=reports,
        position=position,
        events=max(r.events for r in reports),
        trial_from_log=from_log,
        trial_live=live,
        seconds=time.perf_counter() - started,
    )
    if sum(from_log.values()) != 0:
        report.problems.append(f"the log's postings sum to {sum(from_log.values())}, not zero")
    if live_tb.total != 0:
        report.problems.append(f"the live trial balance sums to {live_tb.total}, not zero")
    for name in sorted(set(from_log) | set(live)):
        if from_log.get(name, 0) != live.get(name, 0):
            report.problems.append(
                f"trial balance {name}: {live.get(name, 0)} live, {from_log.get(name, 0)}"
                " from the log's postings"
            )
    return report
