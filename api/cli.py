"""The `kvit` command line: serve, migrate, token (and the read side's commands)."""

from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from api.audit_cli import register as register_audit_commands
from api.auth import Role, issue_token, secret_key
from api.bank_notices_cli import register as register_notice_commands
from api.settings import ApiSettings
from ledger import connections
from ledger.bootstrap import migrate as migrate_event_store
from projections.cli import register as register_projection_commands

cli = typer.Typer(help="Kvit: an event-sourced payment ledger for ЖКУ.", no_args_is_help=True)
err = Console(stderr=True)


def migrate_all(settings: ApiSettings) -> None:
    """The event store's tables, the read models' tables, and the notice outbox."""
    from api.notices import outbox
    from projections.schema import migrate as migrate_read_models
    from projections.settings import ReadSettings, open_store

    migrate_event_store(settings)
    migrate_read_models(settings)
    store = open_store(settings, ReadSettings())
    try:
        outbox.migrate(store)
    finally:
        store.close()


@cli.command()
def migrate() -> None:
    """Create the database schema (run once before starting workers on PostgreSQL)."""
    connections.apply(connections.Role.ONE_OFF)
    settings = ApiSettings()
    migrate_all(settings)
    where = "PostgreSQL" if settings.uses_postgres else f"SQLite in {settings.data_dir}"
    err.print(f"schema ready on {where}")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port to bind"),
    workers: int = typer.Option(1, min=1, help="worker processes (PostgreSQL only)"),
) -> None:
    """Serve the HTTP API. On SQLite (no KVIT_DATABASE_URL) the schema is created first and the
    projections run inside this one process."""
    try:
        connections.apply(connections.Role.SERVE, workers)  # inherited by the workers
    except connections.BudgetTooSmallError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    settings = ApiSettings()
    if not settings.uses_postgres:
        if workers > 1:
            err.print("[red]--workers > 1 needs PostgreSQL (KVIT_DATABASE_URL)[/red]")
            raise typer.Exit(2)
        migrate_all(settings)
    secret_key(settings)  # created once here, before workers race for it
    # httptools + uvloop (uvicorn[standard]): h11 on asyncio stalls each response on delayed ACKs.
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="httptools",
        loop="uvloop",
    )


@cli.command()
def token(
    role: Role = typer.Option(..., help="resident, operator or auditor"),
    payer: str | None = typer.Option(None, help="the payer id (for --role resident)"),
    lifetime: int = typer.Option(30 * 24 * 3600, help="seconds the token is valid"),
) -> None:
    """Print a bearer token, alone on one line of stdout."""
    if role == Role.RESIDENT and not payer:
        err.print("[red]--role resident needs --payer ID[/red]")
        raise typer.Exit(2)
    print(issue_token(secret_key(ApiSettings()), role, payer, lifetime))


@cli.command()
def mail() -> None:
    """Send e-mail notices of card payments (PostgreSQL: run one or more of these)."""
    import logging
    import signal

    from api.notices.service import NoticeService
    from ledger.bootstrap import build_ledger

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    connections.apply(connections.Role.MAIL)
    settings = ApiSettings()
    if not settings.smtp_url:
        err.print("[red]set KVIT_SMTP_URL (e.g. smtp://127.0.0.1:1025)[/red]")
        raise typer.Exit(2)
    ledger = build_ledger(settings)
    service = NoticeService(settings, ledger)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop.set())
    err.print(f"sending notices through {settings.smtp_url}")
    try:
        service.worker.run(service.stop)
    finally:
        service.close()
        ledger.close()


register_projection_commands(cli)
register_audit_commands(cli)
register_notice_commands(cli)


def main() -> None:
    cli()
