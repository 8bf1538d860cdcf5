"""`kvit notices import FILE`: a bank's notice register into the ledger, with a progress bar.

Every line is accepted, a duplicate, a conflict, rejected (with its reason, written to the
rejects file the summary names) or an annulment. `--json` prints one object for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.console import err, out
from api.spreadsheet import SpreadsheetWriter
from ledger.bootstrap import build_ledger
from ledger.domain.identifiers import parse_bik
from ledger.engine import connections
from ledger.notices.importer import OUTCOMES, ImportSummary, import_register
from ledger.notices.line import RejectedLine
from ledger.settings import Settings

notices_cli = typer.Typer(help="Bank notices: import registers.", no_args_is_help=True)


@notices_cli.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    bank: str | None = typer.Option(
        None, help="the posting bank's БИК for OrderIDs that carry none (those that do must agree)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    rejects: Path | None = typer.Option(
        None, help="where rejected lines go (default: beside FILE)"
    ),
) -> None:
    """Import a register (CSV with `;` in UTF-8 or cp1251, or JSON Lines). Re-sending a file
    changes nothing: its lines come back as duplicates."""
    bank_bik = parse_bik(bank) if bank else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rejects_path = rejects or file.with_name(f"{file.name}.rejects-{stamp}.csv")
    connections.apply(connections.Role.ONE_OFF)
    ledger = build_ledger(Settings())
    size = file.stat().st_size
    try:
        with (
            file.open("rb") as stream,
            rejects_file(rejects_path) as write_reject,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=err,
                disable=as_json,
                transient=True,  # the summary follows; an error stays the only line
            ) as bar,
        ):
            task = bar.add_task("import", total=size)
            summary = import_register(
                ledger,
                stream,
                bank_bik=bank_bik,
                on_batch=lambda _, done: bar.update(task, completed=done),
                on_reject=write_reject,
            )
    finally:
        ledger.close()
    any_rejected = summary.rejected + summary.conflicts > 0
    _report(summary, rejects_path if any_rejected else None, as_json=as_json)


def _report(summary: ImportSummary, rejects: Path | None, *, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(summary.as_dict() | {"rejects_file": rejects and str(rejects)}))
        return
    table = Table(title="register imported")
    for name in (*OUTCOMES, "seconds"):
        table.add_column(name, justify="right")
    table.add_row(*(str(getattr(summary, name)) for name in OUTCOMES), f"{summary.seconds:.2f}")
    out.print(table)
    if rejects is not None:
        out.print(f"rejected and conflicting lines, with reasons: {rejects}")


@contextmanager
def rejects_file(path: Path) -> Iterator[Callable[[RejectedLine], None]]:
    """A writer of rejected lines with their reasons, as CSV a supplier's operator can open;
    each line is written as it comes, so memory stays flat. A file that got no line is removed,
    whether the import ended or failed."""
    written = 0
    with open(path, "x", encoding="utf-8-sig", newline="") as out:
        writer = SpreadsheetWriter(out)
        writer.writerow(["line", "order_id", "code", "reason", "raw"])

        def write(line: RejectedLine) -> None:
            nonlocal written
            written += 1
            writer.writerow([line.line_no, line.order_id, line.code, line.reason, line.raw])

        try:
            yield write
        finally:
            if not written:
                path.unlink()
