"""The mail worker: follows the log, queues an e-mail per succeeded card payment that has an
address, and sends queued e-mails with bounded, backed-off retries.

Once a signed checkpoint covers the payment, the e-mail carries its receipt code as a QR code
(mail/message.py). A notice that finds none waits for it up to `receipt_wait` seconds after the
payment (checked again every RECHECK_SECONDS, no attempt counted), then goes without.

Delivery is at-least-once with a fixed Message-ID per payment: an SMTP outage or a crash
delays an e-mail but never loses it, and an e-mail is queued once however often the worker
restarts. The one window for a duplicate is a crash after the SMTP server accepted the message
and before the worker recorded it (one local UPDATE).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain.payment import Payment, PaymentMethod, came_by_card
from mail import outbox
from mail.message import ReceiptCode, payment_mail
from storage.log import Logged, read_chunk
from storage.sql import Store

BATCH = 500
IDLE_SECONDS = 0.5
MAX_RECONNECT_PAUSE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 300
RECHECK_SECONDS = 5.0
MAX_ATTEMPTS = 40
"""About three hours of retries (back-off doubling up to 5 minutes), then `undeliverable`."""
log = logging.getLogger("kvit.mail")


class MailWorker:
    def __init__(
        self,
        ledger: Ledger,
        store: Store,
        send: Callable[[EmailMessage], None],
        *,
        batch: int = BATCH,
        receipt_code: Callable[[UUID], ReceiptCode | None] | None = None,
        receipt_wait: float = 0.0,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.send = send
        self.batch = batch
        self.receipt_code = receipt_code
        self.receipt_wait = receipt_wait
        self._connection = store.connect()

    def collect(self) -> bool:
        """Queue the e-mails of one batch of the log; True if more may follow at once."""
        with self.store.transaction(self._connection) as tx:
            after = outbox.tracked_position(tx)
            chunk = read_chunk(
                self.ledger, after=after, limit=self.batch, topics={Payment.Succeeded.TOPIC}
            )
            queued = [m for logged in chunk.events if (m := self._mail(logged)) is not None]
            if chunk.last > after:
                outbox.enqueue(tx, queued, chunk.last)
        return chunk.full

    def _mail(self, logged: Logged) -> dict[str, Any] | None:
        succeeded: Payment.Succeeded.Read = logged.event
        if not came_by_card(succeeded):  # a wallet payment: no e-mail, and no load to learn it
            return None
        payment = self.ledger.get_payment(UUID(logged.originator_id))
        if payment.method != PaymentMethod.CARD or not payment.email:
            return None
        return {
            "payment_id": str(payment.id),
            "position": logged.position,
            "email": payment.email,
            "payer_id": payment.payer_id,
            "recipient": payment.recipient,
            "account_number": payment.account_number,
            "document_id": payment.document_id,
            "amount": payment.amount,
            "paid_at": succeeded.timestamp.isoformat(),
        }

    def deliver(self) -> int:
        """Send what is due; return how many were sent."""
        now = time.time()
        with self.store.transaction(self._connection) as tx:
            payment_ids = outbox.due(tx, self.batch, now)
        sent = 0
        for payment_id in payment_ids:
            # Claim with the time of the claim: a batch's start time would make late claims
            # look stale to another worker while this one is still sending.
            with self.store.transaction(self._connection) as tx:
                queued = outbox.claim(tx, payment_id, time.time())
            if queued is None:
                continue
            code = self._code(queued)
            if code is None and self._may_wait(queued):
                with self.store.transaction(self._connection) as tx:
                    outbox.postpone(tx, payment_id, time.time() + RECHECK_SECONDS)
                continue
            try:
                self.send(payment_mail(queued, code))
            except Exception as error:
                attempts = queued["attempts"] + 1
                retry_at = time.time() + min(MAX_BACKOFF_SECONDS, 2**attempts)
                give_up = attempts >= MAX_ATTEMPTS
                log.log(
                    logging.ERROR if give_up else logging.WARNING,
                    "e-mail for %s failed (attempt %s%s): %s",
                    payment_id,
                    attempts,
                    ", giving up" if give_up else "",
                    error,
                )
                with self.store.transaction(self._connection) as tx:
                    outbox.mark_failed(
                        tx, payment_id, str(error), attempts, retry_at, give_up=give_up
                    )
                continue
            with self.store.transaction(self._connection) as tx:
                outbox.mark_sent(tx, payment_id)
            sent += 1
        return sent

    def _code(self, queued: dict[str, Any]) -> ReceiptCode | None:
        if self.receipt_code is None:
            return None
        try:
            return self.receipt_code(UUID(queued["payment_id"]))
        except Exception:  # the audit store is down: the notice still goes, without its code
            log.exception("no receipt code for %s", queued["payment_id"])
            return None

    def _may_wait(self, queued: dict[str, Any]) -> bool:
        paid_at = datetime.fromisoformat(queued["paid_at"]).timestamp()
        return self.receipt_code is not None and time.time() < paid_at + self.receipt_wait

    def run(self, stop: threading.Event) -> None:
        pause = IDLE_SECONDS
        while not stop.is_set():
            try:
                self._reconnect_if_lost()
                while self.collect() and not stop.is_set():
                    pass
                self.deliver()
                pause = IDLE_SECONDS
            except Exception:
                log.exception("mail worker step failed; retrying in %.1fs", pause)
                pause = min(pause * 2, MAX_RECONNECT_PAUSE_SECONDS)
            stop.wait(pause)

    def _reconnect_if_lost(self) -> None:
        """A cut connection (a restart, a failover) stays closed: make a new one, which with a
        cluster's URL (target_session_attrs=read-write) finds the new primary."""
        if getattr(self._connection, "closed", False) or getattr(self._connection, "broken", False):
            self._connection.close()
            self._connection = self.store.connect()
            log.warning("mail worker reconnected to the database")

    def close(self) -> None:
        self._connection.close()
