"""Starting the mail worker: in its own process on PostgreSQL (`kvit mail`), or as a thread
inside the embedded server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

from ledger.application import Ledger
from mail import outbox
from mail.mailer import SmtpMailer
from mail.message import ReceiptCode
from mail.worker import MailWorker
from storage.sql import Store


class MailService:
    """The composition root gives it the ledger, the store that holds the outbox (the read
    models' database), the SMTP URL (KVIT_SMTP_URL) and, where the log is audited, a way to a
    payment's receipt code; the service owns the store from then on. So mail/ imports nothing
    of `api`, `audit` or `projections`."""

    def __init__(
        self,
        ledger: Ledger,
        store: Store,
        smtp_url: str | None,
        *,
        receipt_code: Callable[[UUID], ReceiptCode | None] | None = None,
        receipt_wait: float = 0.0,
    ) -> None:
        if not smtp_url:
            raise ValueError("KVIT_SMTP_URL is not set: there is nowhere to send e-mails")
        self.store = store
        outbox.migrate(self.store)
        self.worker = MailWorker(
            ledger,
            self.store,
            SmtpMailer(smtp_url).send,
            receipt_code=receipt_code,
            receipt_wait=receipt_wait,
        )
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_thread(self) -> MailService:
        self._thread = threading.Thread(
            target=self.worker.run, args=(self.stop,), name="kvit-mail", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.worker.close()
        self.store.close()
