"""Starting the mail worker: in its own process on PostgreSQL (`kvit mail`), or as a thread
inside the embedded server."""

from __future__ import annotations

import threading

from ledger.application import Ledger
from mail import outbox
from mail.mailer import SmtpMailer
from mail.worker import MailWorker
from storage.sql import Store


class MailService:
    """The composition root gives it the ledger, the store that holds the outbox (the read
    models' database) and the SMTP URL (KVIT_SMTP_URL); the service owns the store from then on.
    So mail/ imports nothing of `api` or `projections`."""

    def __init__(self, ledger: Ledger, store: Store, smtp_url: str | None) -> None:
        if not smtp_url:
            raise ValueError("KVIT_SMTP_URL is not set: there is nowhere to send e-mails")
        self.store = store
        outbox.migrate(self.store)
        self.worker = MailWorker(ledger, self.store, SmtpMailer(smtp_url).send)
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
