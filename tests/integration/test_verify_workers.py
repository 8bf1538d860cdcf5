"""`verify` with worker processes (PostgreSQL) finds exactly what it finds in one process:
each worker checks whole batches in bulk in the caller's snapshot, and a batch that does not
agree with its chain is walked by the caller one position at a time, as it would be alone.
On SQLite the workers never start, and the same holds trivially."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit import scan
from audit.service import trusted_verifier
from audit.verify import VerifyReport, verify
from tests.integration.test_audit_tamper import Log, changed_byte, log

__all__ = ["log"]  # the fixture: a chained, checkpointed log on each backend
BATCH = 8  # several batches of the small log, cut at the checkpoint and between


def run(log: Log, jobs: int) -> VerifyReport:
    return verify(
        log.ledger,
        log.store,
        checkpoints=log.store.checkpoints(),
        public_key=log.public_key,
        notes=[text for _, text in log.store.notes()],
        verifier=trusted_verifier(log.settings),
        batch=BATCH,
        jobs=jobs,
    )


def found(report: VerifyReport) -> list[tuple[str, int, str]]:
    return [(f.kind, f.position, f.detail) for f in report.findings]


@pytest.fixture(autouse=True)
def small_logs_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "WORKERS_FROM", 0)


def test_an_untouched_log_is_checked_in_bulk_by_the_workers(log: Log) -> None:
    report = run(log, jobs=2)
    assert report.clean, report.findings
    assert report.workers == (2 if log.postgres else 0)
    assert report.bulk == report.events == log.head()
    assert report.checkpoints == 1 and report.tree_checkpoints == 1
    alone = run(log, jobs=1)
    assert (alone.events, alone.tree_size, alone.workers) == (report.events, report.tree_size, 0)


TAMPERING: dict[str, Callable[[Log], None]] = {
    "a changed event": lambda log: log.set_state(20, changed_byte(log.state(20))),
    "a deleted event": lambda log: log.delete(17),
    "the newest deleted": lambda log: log.delete(log.head() - 1, log.head()),
    "a changed stored leaf": lambda log: log.sql(
        f"UPDATE {log.store.name('audit_tree')} SET hash = %s WHERE level = 0 AND idx = 30",
        [bytes(32)],
    ),
    "an edited chain row": lambda log: log.sql(
        f"UPDATE {log.store.name('audit_chain')} SET chain_hash = %s WHERE position = 12",
        [bytes(32)],
    ),
}


@pytest.mark.parametrize("tamper", TAMPERING)
def test_the_workers_find_what_one_process_finds(log: Log, tamper: str) -> None:
    TAMPERING[tamper](log)
    alone, shared = run(log, jobs=1), run(log, jobs=2)
    assert not alone.clean
    assert found(shared) == found(alone)
    # The batches of a changed log or chain are walked one by one; a changed stored tree is
    # seen beside a log that agrees with its chain.
    walked = tamper != "a changed stored leaf"
    assert (shared.bulk < shared.events) is walked
