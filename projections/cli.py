"""Command-line entry points of the read side, registered on the `kvit` CLI.

kvit project [NAME ...] [--exit-if-busy]   one follower: the log into read models (PostgreSQL)
kvit projections migrate                   create the read-model tables
kvit projections rebuild [--check]         replay the log into fresh read models and swap
kvit projections status                    positions of the read models and of the log, and
                                           which are stuck (before an event they cannot apply)
"""

from __future__ import annotations

import logging
import signal
import threading

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine import connections
from ledger.settings import Settings
from projections import models
from projections.errors import ProjectionBusyError
from projections.rebuild import rebuild
from projections.runner import ReadModelFollower
from projections.schema import migrate
from projections.settings import ReadSettings, open_store
from projections.shadow import compare_with_shadow
from projections.stuck import read_stuck
from projections.supervisor import supervise
from projections.tracking import read_tracking
from storage.faults import cured_by_reconnecting
from storage.log import head
from storage.preflight import READ_MODELS, require_schema

err = Console(stderr=True, soft_wrap=True)  # one line stays one line in a log
EXIT_BUSY = 3
NAMES_HELP = f"read models: {', '.join(models.NAMES)} (default: all)"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def project(
    names: list[str] = typer.Argument(None, help=NAMES_HELP),
    exit_if_busy: bool = typer.Option(
        False, help="exit (code 3) instead of standing by when another runner holds a projection"
    ),
    process_per_model: bool = typer.Option(
        False,
        help="one supervised child process per read model (parallel catch-up on many cores)"
        " instead of one follower reading the log once for all of them",
    ),
) -> None:
    """Keep read models up to date on PostgreSQL: one follower reads the log once for all."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    connections.apply(connections.Role.PROJECT)
    settings, read = Settings(), ReadSettings()
    chosen = list(names or models.NAMES)
    models.build(chosen)
    if not settings.uses_postgres:
        err.print(
            "[red]`kvit project` follows PostgreSQL; in embedded mode the projections run"
            " inside `kvit serve`[/red]"
        )
        raise typer.Exit(2)
    # else: "run `kvit migrate`"
    require_schema(
        settings, application=Ledger.name, read_schema=read.database_schema, read_tables=READ_MODELS
    )
    stop = _stop_on_signals()
    if len(chosen) > 1 and process_per_model:
        code = supervise(chosen, exit_if_busy=exit_if_busy, stop=stop, say=err.print)
        if code:
            raise typer.Exit(code)
        return
    runner = ReadModelFollower(
        chosen, settings, read, exit_if_busy=exit_if_busy, stop=stop, say=lambda m: err.print(m)
    )
    try:
        runner.run()
    except ProjectionBusyError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_BUSY) from None
    except Exception as error:
        if not cured_by_reconnecting(error):
            raise
        err.print(f"[red]{runner.label}: giving up, the database keeps failing: {error}[/red]")
        raise typer.Exit(1) from None


projections_cli = typer.Typer(
    help="Read models: create, rebuild, audit, inspect.", no_args_is_help=True
)


@projections_cli.command("migrate")
def migrate_command() -> None:
    """Create the read-model tables (safe to run again)."""
    migrate(Settings())
    err.print("read models ready")


@projections_cli.command("rebuild")
def rebuild_command(
    names: list[str] = typer.Argument(None, help=NAMES_HELP),
    check: bool = typer.Option(
        False, help="do not swap: rebuild beside the live models and compare"
    ),
    batch_size: int = typer.Option(
        0, help="events per transaction (default KVIT_READ_REBUILD_BATCH_SIZE)"
    ),
    workers: int = typer.Option(
        0, help="processes replaying in parallel (default KVIT_READ_REBUILD_WORKERS)"
    ),
) -> None:
    """Replay the whole event log into fresh read models, then swap them in."""
    settings, read = Settings(), ReadSettings()
    migrate(settings, read)
    ledger, store = build_ledger(settings), open_store(settings, read)
    size = batch_size or read.rebuild_batch_size
    try:
        if check:
            report = compare_with_shadow(ledger, store, names=names or None, batch_size=size)
            if report.identical:
                err.print(
                    "identical: the rebuilt read models equal the live ones at position"
                    f" {report.position}"
                )
                return
            for table, rows in report.differences.items():
                err.print(f"[red]{table}[/red]: {rows}")
            raise typer.Exit(1)
        columns = (
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[events]:,} events"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err) as bar:
            task = bar.add_task("rebuild", total=head(ledger) or 1, events=0)
            done = rebuild(
                ledger,
                store,
                names=names or None,
                batch_size=size,
                workers=workers or read.rebuild_workers,
                progress=lambda pos, total, events: bar.update(
                    task, completed=pos, total=total, events=events
                ),
            )
        applied = ", ".join(f"{name} {count:,}" for name, count in done.per_model.items())
        err.print(
            f"rebuilt the log up to position {done.position} in {done.seconds:.1f}s"
            f" ({done.rate:,.0f} events/s) and swapped it in; events applied: {applied}"
        )
    finally:
        store.close()
        ledger.close()


@projections_cli.command("status")
def status_command() -> None:
    """How far each read model has applied the log."""
    settings, read = Settings(), ReadSettings()
    ledger, store = build_ledger(settings), open_store(settings, read)
    try:
        log_head = head(ledger)
        with store.read() as tx:
            tracking = read_tracking(tx)
            stuck = read_stuck(tx)
        table = Table("projection", "position", "events applied", "behind", "stuck")
        for name, (position, events) in sorted(tracking.items()):
            held = stuck.get(name)
            why = f"on event {held.event} ({held.topic}): {held.detail}" if held else ""
            table.add_row(name, str(position), f"{events:,}", str(log_head - position), why)
        Console().print(table)
    finally:
        store.close()
        ledger.close()


def register(cli: typer.Typer) -> None:
    """Add the read side's commands (`kvit project`, `kvit projections ...`) to `cli`."""
    cli.command("project")(project)
    cli.add_typer(projections_cli, name="projections")


if __name__ == "__main__":  # `python -m projections.cli project NAME`: the supervisor's children
    standalone = typer.Typer()
    register(standalone)
    standalone()
