"""`kvit audit export | balance`: the log as files for an auditor, and a balance as it was at a
position or a moment, recomputed from the log."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

import typer

from api.cli.audit_session import opened
from api.cli.console import err, out, progress_bar
from audit.export import export
from audit.service import trusted_verifier
from projections import as_of as history
from storage.log import head as log_head

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LEDGER_ACCOUNT = re.compile(f"wallet:{_UUID}|payable:{_UUID}:{_UUID}|acquirer:clearing")


def export_command(
    directory: Path = typer.Argument(
        ..., help="where to write events.jsonl, the checkpoints and manifest.json"
    ),
    force: bool = typer.Option(False, help="write into a directory that is not empty"),
) -> None:
    """Write the log (JSON Lines, one event per line with its position, chain hash and decoded
    fields), the signed checkpoints of the chain and of the tree (with consistency proofs) and a
    manifest; check it with `python3 docs/verify_export.py DIR`."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(17, "not a directory", str(directory))
    if directory.exists() and any(directory.iterdir()) and not force:
        err.print(
            f"[red]{directory} is not empty: choose a new directory, or pass --force to"
            " overwrite the export in it[/red]"
        )
        raise typer.Exit(2)
    with opened(replica=True) as (settings, ledger, store), progress_bar("exporting") as bar:
        verifier = trusted_verifier(settings)
        task = bar.add_task("export", total=log_head(ledger) or 1)
        done = export(
            ledger,
            store,
            directory,
            log_key=verifier.text() if verifier else None,
            progress=lambda p: bar.update(task, completed=p),
        )
    latest = done.checkpoint
    where = f"latest checkpoint at position {latest['position']}" if latest else "no checkpoint"
    if done.tree_size is not None:
        where += f"; {done.tree_checkpoints:,} tree checkpoint(s), the latest of size"
        where += f" {done.tree_size:,}"
    out.print(f"exported {done.events:,} events to {directory / 'events.jsonl'} ({where})")


def balance(
    account: UUID | None = typer.Option(None, help="a personal account id"),
    wallet: UUID | None = typer.Option(None, help="a wallet id"),
    ledger_account: str | None = typer.Option(
        None, help="a ledger account: wallet:<id>, payable:<supplier>:<account>, acquirer:clearing"
    ),
    as_of: str | None = typer.Option(None, help="a log position, or an ISO time with a zone"),
) -> None:
    """A balance as of a log position or a moment, recomputed from the log."""
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
    with opened(replica=True) as (_, ledger, store):
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
