"""`verify` finds the same things however the log is cut into batches: a batch that agrees
with its chain is taken in bulk, settling each checkpoint where the walk one by one would
have, and a batch that does not is walked one position at a time. Batches of 8 events cut the
small log at and between its checkpoints; one batch of 5,000 takes it whole."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.service import trusted_verifier
from audit.verify import VerifyReport, verify
from tests.integration.test_audit_tamper import Log, changed_byte, log

__all__ = ["log"]  # the fixture: a chained, checkpointed log on each backend


def run(log: Log, batch: int) -> VerifyReport:
    return verify(
        log.ledger,
        log.store,
        checkpoints=log.store.checkpoints(),
        public_key=log.public_key,
        notes=[text for _, text in log.store.notes()],
        verifier=trusted_verifier(log.settings),
        batch=batch,
    )


def found(report: VerifyReport) -> list[tuple[str, int, str]]:
    return [(f.kind, f.position, f.detail) for f in report.findings]


def test_an_untouched_log_is_taken_in_bulk_in_any_batches(log: Log) -> None:
    for batch in (1, 8, 5000):
        report = run(log, batch)
        assert report.clean, (batch, report.findings)
        assert report.bulk == report.events == log.head()
        assert report.checkpoints == 1 and report.tree_checkpoints == 1


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
def test_small_batches_find_what_one_batch_finds(log: Log, tamper: str) -> None:
    TAMPERING[tamper](log)
    whole, cut = run(log, 5000), run(log, 8)
    assert not whole.clean
    assert found(cut) == found(whole)
    # The batches of a changed log or chain are walked one by one, the others taken in bulk;
    # a changed stored tree is seen beside a log that agrees with its chain.
    assert 0 < cut.bulk < cut.events or tamper == "a changed stored leaf"
