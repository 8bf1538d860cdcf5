"""Reconciliation: ask the acquirer (GetState) about card operations whose outcome never
arrived, and record what it says, as a notification would have. Settling is idempotent, so
racing a late notification is harmless.

`kvit acquirer reconcile` runs it once or every N seconds; in embedded mode the server runs it
in a thread (`Reconciler`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.acquirer.base import AcquirerApi
from api.acquirer.checkout import find_checkout, save_cards, settle
from ledger.application import Ledger
from ledger.domain import CardCheckout, Payment, PaymentStatus, TopUp, TopUpStatus
from storage.log import iter_events

log = logging.getLogger("kvit.acquirer")
JOIN_SECONDS = 5.0


@dataclass
class Reconciled:
    checked: int = 0
    settled: int = 0
    waiting: int = 0
    """Still open at the acquirer, or too recent to ask about."""
    failed: int = 0
    """The acquirer did not answer about these; the next run asks again."""
    after: int = 0
    """Every checkout up to this log position is settled: the next run may start here."""

    def line(self) -> str:
        return (
            f"checked {self.checked}, settled {self.settled}, still open {self.waiting},"
            f" unanswered {self.failed}"
        )


def reconcile(
    ledger: Ledger, acquirer: AcquirerApi, *, older_than_seconds: float = 0.0, after: int = 0
) -> Reconciled:
    """Every checkout after position `after` whose operation is still `processing` and older
    than `older_than_seconds`: its state at the acquirer, recorded if final."""
    report = Reconciled(after=after)
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    settled_so_far = True
    for position, opened in iter_events(ledger, after=after, topics=[CardCheckout.Opened.TOPIC]):
        checkout = find_checkout(ledger, opened.operation_id)
        open_here = (
            checkout is not None
            and checkout.acquirer == acquirer.name  # not one from an acquirer used before
            and processing(ledger, checkout)
        )
        if open_here:
            assert checkout is not None
            settled_so_far &= ask(ledger, acquirer, checkout, opened.timestamp >= cutoff, report)
        if settled_so_far:
            report.after = position
    return report


def ask(
    ledger: Ledger, acquirer: AcquirerApi, checkout: CardCheckout, recent: bool, report: Reconciled
) -> bool:
    """Whether the operation is settled now."""
    if recent:
        report.waiting += 1
        return False
    report.checked += 1
    try:
        state = acquirer.state(checkout.acquirer_payment_id)
        if settle(ledger, checkout, state) is None:
            report.waiting += 1
            return False
        report.settled += 1
        save_cards(ledger, acquirer, checkout)
    except Exception as error:  # one operation's trouble must not stop the others
        log.warning("reconciling %s: %s", checkout.operation_id, error)
        report.failed += 1
        return False
    return True


def processing(ledger: Ledger, checkout: CardCheckout) -> bool:
    def status(uow: Any) -> bool:
        if checkout.kind == "payment":
            payment = uow.find(Payment, checkout.operation_id)
            return payment is not None and payment.status == PaymentStatus.PROCESSING
        top_up = uow.find(TopUp, checkout.operation_id)
        return top_up is not None and top_up.status == TopUpStatus.PROCESSING

    return bool(ledger.read(status))


class Reconciler:
    """Reconcile every `seconds` the operations older than that, in a daemon thread."""

    def __init__(self, ledger: Ledger, acquirer: AcquirerApi, seconds: float) -> None:
        self.ledger, self.acquirer, self.seconds = ledger, acquirer, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kvit-reconcile", daemon=True)
        self.after = 0

    def start(self) -> Reconciler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                report = reconcile(
                    self.ledger, self.acquirer, older_than_seconds=self.seconds, after=self.after
                )
            except Exception:
                log.exception("reconciling card operations failed; trying again later")
                continue
            self.after = report.after
            if report.checked:
                log.info("reconciled card operations: %s", report.line())
