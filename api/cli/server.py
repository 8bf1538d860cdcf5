"""`kvit migrate | serve | token`: the database schema, the HTTP server, and bearer tokens."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import NoReturn

import typer
import uvicorn

from api import link_attempts
from api.acquirer.configured import check_acquirer
from api.auth import Role, issue_token, scope_claims, secret_key, secret_path
from api.cli import exposure
from api.cli.console import err
from api.cli.writer_supervisor import WriterSupervisor, socket_path, writer_env
from api.config_checks import ConfigurationError, check_secret, check_settings
from api.oidc import sessions
from api.server_protocol import HeaderDeadlineProtocol
from api.settings import ApiSettings
from api.web import demo_sign_in_enabled
from ledger.application import Ledger
from ledger.bootstrap import migrate as migrate_event_store
from ledger.engine import connections
from mail import outbox
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from storage.preflight import replication, require_schema

KEEP_ALIVE_SECONDS = 5
"""An idle connection between requests is closed after this (uvicorn's default, said here)."""
WORKER_HEALTHCHECK_SECONDS = 60
"""uvicorn's default, 5 s, kills a worker still importing the app on a loaded machine (seen at
load 8–12 on 2 cores: every worker restarted in a loop and /readyz never answered)."""


def migrate_all(settings: ApiSettings) -> None:
    """The event store's tables, the read models' tables, and the notice outbox."""
    migrate_event_store(settings)
    migrate_read_models(settings)
    store = open_store(settings, ReadSettings())
    try:
        outbox.migrate(store)
        link_attempts.migrate(store)
        sessions.migrate(store)
    finally:
        store.close()


def migrate() -> None:
    """Create the database schema (run once before starting workers on PostgreSQL)."""
    connections.apply(connections.Role.ONE_OFF)
    settings = ApiSettings()
    migrate_all(settings)
    where = "PostgreSQL" if settings.uses_postgres else f"SQLite in {settings.data_dir}"
    err.print(f"schema ready on {where}")


def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, min=1, max=65535, help="port to bind"),
    workers: int = typer.Option(1, min=1, help="worker processes (PostgreSQL only)"),
    writer: bool = typer.Option(
        True, help="PostgreSQL: one writer process runs every worker's commands"
    ),
) -> None:
    """Serve the HTTP API. On SQLite (no KVIT_DATABASE_URL) the schema is created first and the
    projections run inside this one process. On PostgreSQL one writer process (supervised
    here) runs the workers' commands."""
    explicit_pool = os.environ.get("KVIT_DATABASE_POOL_SIZE")
    try:
        connections.apply(connections.Role.SERVE, workers)  # inherited by the workers
    except connections.BudgetTooSmallError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    settings = ApiSettings()
    check_settings(settings)  # before anything is created or bound
    check_acquirer(settings)
    if not settings.uses_postgres:
        if workers > 1:
            err.print("[red]--workers > 1 needs PostgreSQL (KVIT_DATABASE_URL)[/red]")
            raise typer.Exit(2)
        migrate_all(settings)
    else:
        require_schema(
            settings, application=Ledger.name, read_schema=ReadSettings().database_schema
        )
        said = replication(settings, required=settings.require_sync_standby)
    secret_key(settings)  # created once here, before workers race for it
    if not settings.public_url:
        # Checkout links and the sandbox's webhook calls go where this server listens.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["KVIT_PUBLIC_URL"] = f"http://{shown}:{port}"
    development_switches(host, settings)  # after every check, so that a refusal stays one line
    if settings.uses_postgres and said:
        err.print(said, markup=False, highlight=False)
    supervisor = None
    if settings.uses_postgres and writer:
        supervisor = start_writer(settings, explicit_pool)
    try:
        run_workers(host, port, workers)
    finally:
        if supervisor is not None:
            supervisor.stop()


def start_writer(settings: ApiSettings, explicit_pool: str | None) -> WriterSupervisor:
    """The writer first (its socket in the data directory), then the workers that use it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = socket_path(settings.data_dir)
    pool = None if explicit_pool else connections.FIXED[connections.Role.WRITER].events
    supervisor = WriterSupervisor(path, writer_env(pool))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a writer that was killed: wait for the new one's
    supervisor.start_writer()
    if not supervisor.wait_ready():
        supervisor.stop()
        err.print("[red]the writer process did not start[/red]")
        raise typer.Exit(1)
    os.environ["KVIT_WRITER_SOCKET"] = str(path)  # inherited by the workers
    return supervisor


def run_workers(host: str, port: int, workers: int) -> None:
    # httptools + uvloop (uvicorn[standard]): h11 on asyncio stalls each response on delayed ACKs.
    # The protocol is httptools' with a deadline on a request's headers (api/server_protocol.py).
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HeaderDeadlineProtocol,
        loop="uvloop",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def development_switches(host: str, settings: ApiSettings) -> None:
    """Turn the demo switches off beyond loopback (api/cli/exposure.py), and say so; say that
    card payments are off where there is no acquirer. One line each."""
    for line in exposure.restrict(host, settings):
        err.print(line, markup=False, highlight=False)
    if settings.uses_postgres and not settings.oidc_enabled and not demo_sign_in_enabled(settings):
        err.print(
            "the cabinet's sign-in is off: no identity provider is configured (set"
            " KVIT_OIDC_ISSUER and KVIT_OIDC_CLIENT_ID; API tokens from `kvit token` still work)",
            markup=False,
            highlight=False,
        )
    if ApiSettings().acquirer_kind == "none":  # as the workers will read it
        err.print(
            "card payments are off: no acquirer is configured (KVIT_ACQUIRER=tbank with its"
            " terminal, or the sandbox, KVIT_ACQUIRER=sandbox, for development only)",
            markup=False,
            highlight=False,
        )


def token(
    role: Role = typer.Option(
        ..., help="resident, operator (unscoped), auditor, bank (--bik) or supplier (--inn)"
    ),
    payer: str | None = typer.Option(None, help="the payer id (for --role resident)"),
    bik: str | None = typer.Option(None, help="the bank's БИК (for --role bank)"),
    inn: str | None = typer.Option(None, help="the supplier's ИНН (for --role supplier)"),
    lifetime: int = typer.Option(30 * 24 * 3600, min=1, help="seconds the token is valid"),
) -> None:
    """Print a bearer token, alone on one line of stdout. Without KVIT_SECRET_KEY it is signed
    with the secret `kvit serve` generated in the data directory, which must exist already.
    A bank operator's token acts for its БИК only, a supplier operator's for its ИНН only."""
    if role == Role.RESIDENT and not payer:
        refuse("--role resident needs --payer ID")
    for option, value, needed_by in (("--bik", bik, Role.BANK), ("--inn", inn, Role.SUPPLIER)):
        if role == needed_by and value is None:
            refuse(f"--role {role.value} needs {option}")
        if role != needed_by and value is not None:
            refuse(f"{option} is for --role {needed_by.value} only")
    try:
        scope_claims(role, {"bik": bik, "inn": inn})  # before any secret is looked for
    except ValueError as error:
        refuse(f"{'--bik' if role == Role.BANK else '--inn'}: {error}")
    settings = ApiSettings()
    if settings.secret_key:
        check_secret("KVIT_SECRET_KEY", settings.secret_key)  # serve would refuse it too
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
    print(issue_token(secret, role, payer, lifetime, bik=bik, inn=inn))


def refuse(message: str) -> NoReturn:
    err.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


SECRET_VARIABLES = ("KVIT_SECRET_KEY", "KVIT_ACQUIRER_SECRET")


def new_secrets() -> None:
    """Print new random KVIT_SECRET_KEY and KVIT_ACQUIRER_SECRET lines for a .env file, once:
    `kvit secrets >> .env` (every process of a deployment must share them)."""
    for variable in SECRET_VARIABLES:
        # token_urlsafe: letters, digits, - and _: nothing a .env reader would interpret.
        print(f"{variable}={secrets.token_urlsafe(48)}")
