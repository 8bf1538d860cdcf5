"""The `kvit` command line: serve, migrate (more commands arrive with their issues)."""

from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from ledger.bootstrap import migrate as migrate_schema
from ledger.settings import Settings
from projections.cli import register as register_projection_commands

cli = typer.Typer(help="Kvit: an event-sourced payment ledger for ЖКУ.", no_args_is_help=True)
err = Console(stderr=True)


@cli.command()
def migrate() -> None:
    """Create the database schema (run once before starting workers on PostgreSQL)."""
    settings = Settings()
    migrate_schema(settings)
    where = "PostgreSQL" if settings.uses_postgres else f"SQLite in {settings.data_dir}"
    err.print(f"schema ready on {where}")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port to bind"),
) -> None:
    """Serve the HTTP API. On SQLite (no KVIT_DATABASE_URL) the schema is created first."""
    settings = Settings()
    if not settings.uses_postgres:
        migrate_schema(settings)
    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port)


register_projection_commands(cli)


def main() -> None:
    cli()
