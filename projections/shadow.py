"""Auditor replay: rebuild the read models beside the live ones and compare them row by row.

Both copies are compared at the same log position, inside one read snapshot: if the live
models moved on while the shadow was built, the shadow is brought forward to them first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections import models
from projections.rebuild import rebuild
from projections.replay import Progress, Tally, replay
from projections.tables import LIVE, SHADOW
from projections.tracking import read_positions, read_tracking
from storage.sql import Store

MAX_ATTEMPTS = 5
SHOWN = 20


class ShadowCompareError(RuntimeError):
    """The live read models cannot be compared now: at different positions, or moving."""


@dataclass
class ShadowReport:
    position: int
    events: int
    differences: dict[str, dict[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    """table -> {"only_live": rows, "only_rebuilt": rows} (at most SHOWN each)."""

    @property
    def identical(self) -> bool:
        return not self.differences


def compare_with_shadow(
    app: Application[UUID],
    store: Store,
    *,
    names: Sequence[str] | None = None,
    batch_size: int = 5000,
    progress: Progress | None = None,
) -> ShadowReport:
    chosen = models.build(list(names) if names else None)
    wanted = [m.name for m in chosen]
    with store.read() as tx:
        positions = read_positions(tx, wanted)
    if len(set(positions.values())) != 1:
        raise ShadowCompareError(
            f"the read models are at different positions {positions}; audit one at a time"
        )
    built = rebuild(
        app,
        store,
        names=wanted,
        stop=positions[wanted[0]],
        swap=False,
        batch_size=batch_size,
        progress=progress,
    )
    tally = Tally(built.position, built.events, dict(built.per_model))
    connection = store.connect()
    try:
        for _ in range(MAX_ATTEMPTS):
            with store.read() as tx:
                tracking = {n: t for n, t in read_tracking(tx).items() if n in wanted}
                if {position for position, _ in tracking.values()} == {tally.position}:
                    report = ShadowReport(tally.position, tally.events)
                    for model in chosen:
                        for table in model.tables:
                            _compare(tx, table.name, table.column_names, report)
                        applied = tracking[model.name][1]
                        if applied != tally.per_model[model.name]:
                            report.differences.setdefault("tracking", {}).setdefault(
                                "only_live", []
                            ).append((model.name, applied, tally.per_model[model.name]))
                    return report
            target = max(position for position, _ in tracking.values())
            tally = replay(
                app,
                store,
                connection,
                chosen,
                start=tally.position,
                stop=target,
                batch_size=batch_size,
                tally=tally,
            )
    finally:
        connection.close()
    raise ShadowCompareError("the live read models kept moving; stop the writers to audit them")


def _compare(tx: Any, name: str, columns: Sequence[str], report: ShadowReport) -> None:
    cols = ", ".join(columns)
    live, shadow = tx.store.name(LIVE + name), tx.store.name(SHADOW + name)
    only_live = tx.execute(
        f"SELECT {cols} FROM {live} EXCEPT SELECT {cols} FROM {shadow} LIMIT {SHOWN}"
    )
    only_rebuilt = tx.execute(
        f"SELECT {cols} FROM {shadow} EXCEPT SELECT {cols} FROM {live} LIMIT {SHOWN}"
    )
    if only_live or only_rebuilt:
        report.differences[name] = {"only_live": only_live, "only_rebuilt": only_rebuilt}
