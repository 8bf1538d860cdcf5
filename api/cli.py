"""The `kvit` command line: serve, migrate, token (and the read side's commands)."""

from __future__ import annotations

import os
import sys

import typer
import uvicorn
from rich.console import Console

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException

from api.audit_cli import register as register_audit_commands
from api.auth import Role, issue_token, secret_key, secret_path
from api.bank_notices_cli import register as register_notice_commands
from api.cli_errors import describe
from api.config_checks import ConfigurationError, check_secrets
from api.settings import ApiSettings
from ledger import connections
from ledger.bootstrap import migrate as migrate_event_store
from ledger.preflight import OUTBOX, require_schema
from projections.cli import register as register_projection_commands
from projections.settings import ReadSettings

cli = typer.Typer(help="Kvit: an event-sourced payment ledger for ЖКУ.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)  # one line stays one line in a log


def migrate_all(settings: ApiSettings) -> None:
    """The event store's tables, the read models' tables, and the notice outbox."""
    from api import link_attempts
    from mail import outbox
    from projections.schema import migrate as migrate_read_models
    from projections.settings import ReadSettings, open_store

    migrate_event_store(settings)
    migrate_read_models(settings)
    store = open_store(settings, ReadSettings())
    try:
        outbox.migrate(store)
        link_attempts.migrate(store)
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
    port: int = typer.Option(8000, min=1, max=65535, help="port to bind"),
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
    check_secrets(settings)  # before anything is created or bound
    if not settings.uses_postgres:
        if workers > 1:
            err.print("[red]--workers > 1 needs PostgreSQL (KVIT_DATABASE_URL)[/red]")
            raise typer.Exit(2)
        migrate_all(settings)
    else:
        require_schema(settings, read_schema=ReadSettings().database_schema)
    secret_key(settings)  # created once here, before workers race for it
    if not settings.public_url:
        # Checkout links and the sandbox's webhook calls go where this server listens.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["KVIT_PUBLIC_URL"] = f"http://{shown}:{port}"
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
    lifetime: int = typer.Option(30 * 24 * 3600, min=1, help="seconds the token is valid"),
) -> None:
    """Print a bearer token, alone on one line of stdout. Without KVIT_SECRET_KEY it is signed
    with the secret `kvit serve` generated in the data directory, which must exist already."""
    if role == Role.RESIDENT and not payer:
        err.print("[red]--role resident needs --payer ID[/red]")
        raise typer.Exit(2)
    settings = ApiSettings()
    if settings.secret_key:
        secret = settings.secret_key
    elif settings.uses_postgres:
        raise ConfigurationError("set KVIT_SECRET_KEY to the secret `kvit serve` uses")
    else:
        path = secret_path(settings)
        if not path.exists():
            raise ConfigurationError(
                f"no token secret at {path}: run `kvit token` where `kvit serve` runs (the same"
                " KVIT_DATA_DIR), or set KVIT_SECRET_KEY"
            )
        secret = secret_key(settings, create=False)
        err.print(f"signed with the secret in {path}", markup=False, highlight=False)
    print(issue_token(secret, role, payer, lifetime))


@cli.command()
def mail() -> None:
    """Send e-mail notices of card payments (PostgreSQL: run one or more of these)."""
    import logging
    import signal

    from ledger.bootstrap import build_ledger
    from mail.service import NoticeService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    connections.apply(connections.Role.MAIL)
    settings = ApiSettings()
    if not settings.smtp_url:
        err.print("[red]set KVIT_SMTP_URL (e.g. smtp://127.0.0.1:1025)[/red]")
        raise typer.Exit(2)
    require_schema(settings, read_schema=ReadSettings().database_schema, read_tables=OUTBOX)
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


@cli.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="show the traceback of an error (anywhere on the command line)"
    ),
) -> None:
    """Kvit: an event-sourced payment ledger for ЖКУ."""


def main(argv: list[str] | None = None) -> None:
    """Errors are caught once, here: one line on stderr, the traceback only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    command = typer.main.get_command(cli)
    try:
        code = command.main(args=args, prog_name="kvit", standalone_mode=False)
    except ClickException as error:  # usage errors: click's own short message
        error.show()
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except BrokenPipeError:  # `kvit … | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # as a shell reports it (128 + SIGPIPE)
    except Exception as error:
        if debug:
            raise
        err.print(f"kvit: {describe(error)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
