"""`kvit mail`: the mail worker, as its own process (on PostgreSQL run one or more)."""

from __future__ import annotations

import logging
import signal

import typer

from api.bootstrap import audit_store, mail_service
from api.cli.console import err
from api.settings import ApiSettings
from audit.signing import AuditSettings
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine import connections
from projections.settings import ReadSettings
from storage.preflight import OUTBOX, require_schema


def mail() -> None:
    """Send e-mail notices of card payments (PostgreSQL: run one or more of these)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    connections.apply(connections.Role.MAIL)
    settings = ApiSettings()
    if not settings.smtp_url:
        err.print("[red]set KVIT_SMTP_URL (e.g. smtp://127.0.0.1:1025)[/red]")
        raise typer.Exit(2)
    require_schema(
        settings,
        application=Ledger.name,
        read_schema=ReadSettings().database_schema,
        read_tables=OUTBOX,
    )
    ledger = build_ledger(settings)
    store = audit_store(ledger, AuditSettings(**settings.model_dump()))
    service = mail_service(settings, ledger, store)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop.set())
    err.print(f"sending e-mails through {settings.smtp_url}")
    try:
        service.worker.run(service.stop)
    finally:
        service.close()
        if store is not None:
            store.close()
        ledger.close()
