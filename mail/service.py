"""Starting the notice worker: in its own process on PostgreSQL (`kvit mail`), or as a thread
inside the embedded server."""

from __future__ import annotations

import threading

from ledger.application import Ledger
from ledger.settings import Settings
from mail import outbox
from mail.mailer import SmtpMailer
from mail.worker import NoticeWorker
from projections.settings import ReadSettings, open_store


class NoticeService:
    def __init__(self, settings: Settings, ledger: Ledger, smtp_url: str | None) -> None:
        """`smtp_url` is KVIT_SMTP_URL, an HTTP-edge setting: mail imports nothing of `api`."""
        if not smtp_url:
            raise ValueError("KVIT_SMTP_URL is not set: there is nowhere to send notices")
        self.store = open_store(settings, ReadSettings())
        outbox.migrate(self.store)
        self.worker = NoticeWorker(ledger, self.store, SmtpMailer(smtp_url).send)
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_thread(self) -> NoticeService:
        self._thread = threading.Thread(
            target=self.worker.run, args=(self.stop,), name="kvit-notices", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.worker.close()
        self.store.close()
