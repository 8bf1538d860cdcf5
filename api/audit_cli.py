"""`kvit audit …` and `kvit demo`: the auditor's toolkit on the command line.

kvit audit follow        extend the hash chain as events are committed; sign checkpoints
kvit audit checkpoint    catch the chain up and sign a checkpoint now (--out FILE to keep it)
kvit audit verify        walk the whole log against the chain and the signed checkpoints
kvit audit replay        rebuild every read model beside the live ones and compare
kvit audit export DIR    the log as JSON Lines, with the checkpoints
kvit audit balance       an account's, wallet's or ledger account's balance --as-of POS|TIME
kvit audit public-key    the key checkpoints are signed with
kvit demo                fill the database with a small, realistic history
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import typer
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli_errors import describe
from api.problems import TRANSIENT as TRANSIENT_FAULTS
from audit.chain import Checkpointer, catch_up
from audit.export import export
from audit.service import EmptyLogError, checkpoint_now, sign_head
from audit.signing import (
    KEY_FILE,
    AuditSettings,
    NoSigningKeyError,
    new_key_file,
    public_hex,
    read_checkpoints,
    signing_key,
    trusted_public_key,
    write_checkpoint,
)
from audit.store import AuditStore
from audit.verify import verify
from ledger import connections
from ledger.application import Ledger
from ledger.bootstrap import build_ledger

audit_cli = typer.Typer(
    help="Auditors: hash chain, signed checkpoints, verify, replay, export.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # one line stays one line in a log
EXIT_FINDINGS = 1
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LEDGER_ACCOUNT = re.compile(f"wallet:{_UUID}|payable:{_UUID}:{_UUID}|acquirer:clearing")


@contextmanager
def opened(
    *, tables: bool = False, role: connections.Role = connections.Role.ONE_OFF
) -> Iterator[tuple[AuditSettings, Ledger, AuditStore]]:
    connections.apply(role)  # small pools: a one-off command runs beside the deployment
    settings = AuditSettings()
    ledger, store = build_ledger(settings), AuditStore.open(settings)
    try:
        if tables:
            store.ensure_tables()
        yield settings, ledger, store
    finally:
        store.close()
        ledger.close()


def _bar(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


# --- the chain ----------------------------------------------------------------------------------
@audit_cli.command()
def follow(
    every: int = typer.Option(
        0, min=0, help="sign after this many new events (default from settings)"
    ),
    interval: float = typer.Option(
        0, min=0, help="or after this many seconds (default from settings)"
    ),
) -> None:
    """Keep the hash chain up to date and sign checkpoints. On PostgreSQL run one such process
    (beside `kvit project`); in embedded mode `kvit serve` does this itself. A lost database
    connection is retried with back-off, as the read-model runners do, instead of exiting."""
    from ledger.preflight import require_schema

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    settings = AuditSettings()
    signing_key(settings)  # fail now, before writing anything, not at the first checkpoint
    require_schema(settings, read_tables=())
    pause = RECONNECT_FIRST

    def connected() -> None:
        nonlocal pause
        pause = RECONNECT_FIRST

    while not stop.is_set():
        try:
            _follow(settings, every, interval, stop, on_progress=connected)
        except TRANSIENT_FAULTS as error:
            err.print(
                f"lost the database ({describe(error)}); reconnecting in {pause:.0f}s",
                markup=False,
                highlight=False,
            )
            stop.wait(pause)
            pause = min(pause * 2, RECONNECT_MAX)


RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0


def _follow(
    settings: AuditSettings,
    every: int,
    interval: float,
    stop: threading.Event,
    on_progress: Any,
) -> None:
    with opened(tables=True, role=connections.Role.AUDIT) as (_, ledger, store):
        checkpointer = Checkpointer(
            lambda head: err.print(
                f"signed checkpoint at position {sign_head(settings, store, head)['position']}"
            ),
            every_events=every or settings.audit_checkpoint_every_events,
            interval=interval or settings.audit_checkpoint_interval_seconds,
            last=store.head(),
        )
        listener = None
        if settings.uses_postgres:
            listener = psycopg.connect(settings.database_url or "", autocommit=True)
            listener.execute(
                sql.SQL("LISTEN {}").format(sql.Identifier(ledger.recorder.channel_name))
            )
        err.print(
            f"following the log from chain position {store.head().position if store.head() else 0}"
        )
        try:
            while not stop.is_set():
                done = catch_up(ledger, store)
                checkpointer(done.head)
                on_progress()
                if listener is not None:
                    for _ in listener.notifies(timeout=1.0, stop_after=1):
                        pass
                else:
                    stop.wait(0.5)
        finally:
            if listener is not None:
                listener.close()


@audit_cli.command()
def keygen(
    out_file: Path | None = typer.Option(
        None,
        "--out",
        help="where to write the key (default: KVIT_AUDIT_SIGNING_KEY_FILE, or"
        " <data dir>/audit_signing_key)",
    ),
) -> None:
    """Write a new Ed25519 signing key (0600; never overwrites one) and print its public key,
    to hand to auditors out of band."""
    settings = AuditSettings()
    path = out_file or settings.audit_signing_key_file or settings.data_dir / KEY_FILE
    key = new_key_file(path)
    err.print(
        f"wrote a new audit signing key to {path.resolve()}"
        + ("" if out_file is None else f"; set KVIT_AUDIT_SIGNING_KEY_FILE={path.resolve()}"),
        markup=False,
        highlight=False,
    )
    print(public_hex(key))


@audit_cli.command()
def checkpoint(
    out_file: Path | None = typer.Option(None, "--out", help="also write the checkpoint here"),
) -> None:
    """Catch the chain up with the log and sign a checkpoint at its head."""
    with opened(tables=True) as (settings, ledger, store):
        try:
            signed = checkpoint_now(ledger, store, settings)
        except (EmptyLogError, NoSigningKeyError) as error:
            err.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    if out_file is not None:
        write_checkpoint(out_file, signed)
    print(json.dumps(signed, indent=2))


@audit_cli.command("public-key")
def public_key() -> None:
    """Print the public key (hex) that checkpoints are signed with: give it to auditors."""
    settings = AuditSettings()
    try:
        print(public_hex(signing_key(settings)))
    except NoSigningKeyError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


# --- verify -------------------------------------------------------------------------------------
@audit_cli.command("verify")
def verify_command(
    checkpoint_files: list[Path] = typer.Option(
        [], "--checkpoint", help="a checkpoint file kept outside the database (repeatable)"
    ),
    public_key: str | None = typer.Option(None, help="the signing key to trust (hex)"),
    catch_up_first: bool = typer.Option(
        False, "--catch-up", help="chain new events first (writes to the chain table)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Walk the whole log, recompute the chain, check every signed checkpoint; exit 1 on any
    finding, with the first position where the log differs."""
    with opened() as (settings, ledger, store):
        if catch_up_first:
            store.ensure_tables()
            catch_up(ledger, store)
        checkpoints = store.checkpoints()
        for path in checkpoint_files:
            checkpoints += read_checkpoints(path)
        key = trusted_public_key(settings, public_key)
        head = ledger.recorder.max_notification_id() or 0
        with _bar("verifying") as bar:
            task = bar.add_task("verify", total=head or 1)
            report = verify(
                ledger,
                store,
                checkpoints=checkpoints,
                public_key=key,
                progress=lambda position, total: bar.update(
                    task, completed=position, total=total or 1
                ),
            )
    if as_json:
        body = {k: v for k, v in asdict(report).items() if k != "findings"}
        print(json.dumps({**body, "findings": [f.as_dict() for f in report.findings]}, indent=2))
    else:
        _print_verify(report)
    if not report.clean:
        raise typer.Exit(EXIT_FINDINGS)


def _print_verify(report: Any) -> None:
    out.print(
        f"walked {report.events:,} events up to position {report.last_position} in"
        f" {report.seconds:.2f}s ({report.rate:,.0f} events/s); chain head {report.chain_head},"
        f" {report.checkpoints} signed checkpoint(s) checked"
    )
    if report.unchained:
        out.print(
            f"{report.unchained} newer event(s) are not chained yet"
            " (`kvit audit follow` chains them; `verify --catch-up` does it now)"
        )
    if report.clean:
        out.print("[green]OK[/green]: the log matches its hash chain and every checkpoint")
        return
    first = report.first
    out.print(f"[red]TAMPERED[/red]: first difference at position {first.position} ({first.kind})")
    table = Table("position", "finding", "detail")
    for finding in report.findings:
        table.add_row(str(finding.position), finding.kind, finding.detail)
    out.print(table)
    if report.more_findings:
        out.print("… and more (only the first findings are listed)")


# --- replay -------------------------------------------------------------------------------------
@audit_cli.command()
def replay(
    batch_size: int = typer.Option(5000, help="events per rebuild transaction"),
) -> None:
    """Rebuild every read model from the log into scratch tables, compare them with the live
    ones and the trial balance with the log's postings; exit 1 on any difference."""
    from projections import models
    from projections.replay_check import replay_check
    from projections.schema import migrate as migrate_read_models
    from projections.settings import ReadSettings, open_store

    connections.apply(connections.Role.ONE_OFF)
    settings, read = AuditSettings(), ReadSettings()
    migrate_read_models(settings, read)
    ledger, store = build_ledger(settings), open_store(settings, read)
    try:
        with _bar("replaying") as bar:
            task = bar.add_task("replay", total=ledger.recorder.max_notification_id() or 1)
            report = replay_check(
                ledger,
                store,
                batch_size=batch_size,
                progress=lambda pos, total, _events: bar.update(
                    task, completed=pos, total=total or 1
                ),
            )
    finally:
        store.close()
        ledger.close()
    out.print(
        f"replayed the log up to position {report.position} ({report.events:,} events the read"
        f" models follow) into scratch tables in {report.seconds:.2f}s"
    )
    if report.identical:
        out.print(
            f"[green]identical[/green]: every read model ({', '.join(models.NAMES)}) equals"
            f" its replay; the trial balance of {len(report.trial_live)} ledger accounts equals"
            " the log's postings and sums to 0"
        )
        return
    for table, rows in report.differences.items():
        out.print(f"[red]{table}[/red]")
        for side, found in rows.items():
            for row in found:
                out.print(f"  {side}: {row}")
    for problem in report.problems:
        out.print(f"[red]{problem}[/red]")
    raise typer.Exit(EXIT_FINDINGS)


# --- export and balances ------------------------------------------------------------------------
@audit_cli.command("export")
def export_command(
    directory: Path = typer.Argument(..., help="where to write events.jsonl and checkpoint.json"),
    force: bool = typer.Option(False, help="write into a directory that is not empty"),
) -> None:
    """Write the log (JSON Lines, one event per line with its position, chain hash and decoded
    fields) and the signed checkpoints; check it with `python docs/verify_export.py DIR`."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(17, "not a directory", str(directory))
    if directory.exists() and any(directory.iterdir()) and not force:
        err.print(
            f"[red]{directory} is not empty: choose a new directory, or pass --force to"
            " overwrite the export in it[/red]"
        )
        raise typer.Exit(2)
    with opened() as (_, ledger, store), _bar("exporting") as bar:
        task = bar.add_task("export", total=ledger.recorder.max_notification_id() or 1)
        done = export(ledger, store, directory, progress=lambda p: bar.update(task, completed=p))
    latest = done.checkpoint
    where = f"latest checkpoint at position {latest['position']}" if latest else "no checkpoint"
    out.print(f"exported {done.events:,} events to {directory / 'events.jsonl'} ({where})")


@audit_cli.command()
def balance(
    account: UUID | None = typer.Option(None, help="a personal account id"),
    wallet: UUID | None = typer.Option(None, help="a wallet id"),
    ledger_account: str | None = typer.Option(
        None, help="a ledger account: wallet:<id>, payable:<supplier>:<account>, acquirer:clearing"
    ),
    as_of: str | None = typer.Option(None, help="a log position, or an ISO time with a zone"),
) -> None:
    """A balance as of a log position or a moment, recomputed from the log."""
    from projections import as_of as history

    if sum(x is not None for x in (account, wallet, ledger_account)) != 1:
        err.print("[red]give exactly one of --account, --wallet, --ledger-account[/red]")
        raise typer.Exit(2)
    if ledger_account is not None and not LEDGER_ACCOUNT.fullmatch(ledger_account):
        err.print(
            f"[red]{ledger_account!r} is not a ledger account: wallet:<id>,"
            " payable:<supplier id>:<account id> or acquirer:clearing[/red]"
        )
        raise typer.Exit(2)
    try:
        position, moment = history.parse_as_of(as_of)
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    with opened() as (_, ledger, store):
        upto = history.resolve(ledger, store, position=position, at=moment)
        found: Any
        if account is not None:
            found = history.account_as_of(ledger, store, account, upto)
        elif wallet is not None:
            found = history.wallet_as_of(ledger, store, wallet, upto)
        else:
            assert ledger_account is not None
            found = history.ledger_account_as_of(ledger, ledger_account, upto)
            if found.debits == 0 and found.credits == 0:
                found = None  # no posting has touched it: it does not exist in the ledger
    if found is None:
        err.print(f"[red]it did not exist at position {upto}[/red]")
        raise typer.Exit(1)
    print(
        json.dumps(
            {"as_of_position": upto, **asdict(found)}, indent=2, ensure_ascii=False, default=str
        )
    )


# --- demo ---------------------------------------------------------------------------------------
def demo(
    suppliers: int = typer.Option(2, min=1, max=50),
    accounts: int = typer.Option(5, min=1, max=500, help="personal accounts per supplier"),
    months: int = typer.Option(3, min=1, max=11),
    cabinet: bool = typer.Option(
        True,
        help="also leave this month's bills unpaid, fund some wallets and open unlinked"
        " accounts, for the resident's cabinet (--no-cabinet: only the auditor's history)",
    ),
) -> None:
    """Fill the configured database (embedded SQLite by default) with a small, realistic
    history; bring the read models and the audit chain up to date; sign a checkpoint. Then
    print how to open the resident's cabinet on it."""
    from api.cli import migrate_all
    from api.demo import fill, fill_cabinet
    from api.settings import ApiSettings
    from projections import models
    from projections.projector import Projector
    from projections.settings import ReadSettings, open_store

    signing_key(AuditSettings())  # before anything is written: the demo ends by signing
    migrate_all(ApiSettings())
    with opened(tables=True) as (settings, ledger, store):
        summary = fill(ledger, suppliers=suppliers, accounts=accounts, months=months)
        extra = (
            fill_cabinet(ledger, suppliers=suppliers, accounts=accounts, months=months)
            if cabinet
            else None
        )
        read = open_store(settings, ReadSettings())
        projector = Projector(ledger, read, models.build(), batch_size=2000)
        try:
            while projector.step().full:
                pass
        finally:
            projector.close()
            read.close()
        signed = checkpoint_now(ledger, store, settings)
    out.print(
        f"demo: {summary.suppliers} suppliers, {summary.accounts} personal accounts,"
        f" {summary.payments} payments; the log holds {summary.events} events; checkpoint"
        f" signed at position {signed['position']}"
    )
    if extra is not None:
        inn, number = extra.unlinked[0]
        out.print(
            f"cabinet: {extra.open_bills} unpaid bills, {extra.funded_wallets} funded wallets;"
            f" the log now holds {signed['position']} events\n"
            f"open it: kvit serve, then {ApiSettings().base_url}/ and pick a demo"
            " resident"
            " (resident-1-1 … has money in the wallet, resident-2-1 … has none);"
            f" to try linking, supplier ИНН {inn} and account number {number}"
        )


def register(cli: typer.Typer) -> None:
    """Add `kvit audit …` and `kvit demo` to the `kvit` CLI."""
    cli.add_typer(audit_cli, name="audit")
    cli.command("demo")(demo)
