"""`kvit audit verify | replay`: is the log what its chain and checkpoints say, and do the read
models equal a rebuild from it? Both exit 1 on any finding."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from api.cli.audit_remote import verify_from
from api.cli.audit_session import opened
from api.cli.console import err, out, progress_bar
from audit.chain import catch_up
from audit.note import NoteError
from audit.service import trusted_verifier
from audit.signing import AuditSettings, read_checkpoints, trusted_public_key
from audit.verify import VerifyReport, verify
from ledger.bootstrap import build_ledger
from ledger.engine import connections
from projections import models
from projections.replay_check import replay_check
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from storage.log import head as log_head

EXIT_FINDINGS = 1


def verify_command(
    checkpoint_files: list[Path] = typer.Option(
        [], "--checkpoint", help="a checkpoint file kept outside the database (repeatable)"
    ),
    public_key: str | None = typer.Option(None, help="the signing key to trust (hex)"),
    note_files: list[Path] = typer.Option(
        [], "--note", help="a signed tree checkpoint (note) kept outside the database"
    ),
    log_key: str | None = typer.Option(
        None, help="the log's note verifier key to trust (`kvit audit keygen` prints it)"
    ),
    catch_up_first: bool = typer.Option(
        False, "--catch-up", help="chain new events first (writes to the chain table)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    source: str | None = typer.Option(
        None,
        "--from",
        help="check a deployment's log from the tiles it serves instead, e.g."
        " https://kvit.example/v1/audit/log/ (with --token for the entries)",
    ),
    token: str | None = typer.Option(
        None, envvar="KVIT_AUDIT_TOKEN", help="--from: an auditor's bearer token"
    ),
    state: Path | None = typer.Option(
        None, help="--from: the checkpoint kept from the last run; checked, then replaced"
    ),
    trust_served_key: bool = typer.Option(
        False, help="--from: without --log-key, trust the key the deployment serves"
    ),
) -> None:
    """Walk the whole log, recompute the chain, check every signed checkpoint; exit 1 on any
    finding, with the first position where the log differs. With --from, check a deployment's
    log from what it serves (C2SP tlog-tiles) instead of a database."""
    if source is not None:
        verify_from(
            source,
            log_key=log_key,
            trust_served_key=trust_served_key,
            token=token,
            state=state,
            as_json=as_json,
        )
        return
    report = _verify_database(
        checkpoint_files, public_key, note_files, log_key, catch_up_first=catch_up_first
    )
    if as_json:
        body = {k: v for k, v in asdict(report).items() if k != "findings"}
        print(json.dumps({**body, "findings": [f.as_dict() for f in report.findings]}, indent=2))
    else:
        _print_verify(report)
    if not report.clean:
        raise typer.Exit(EXIT_FINDINGS)


def _verify_database(
    checkpoint_files: list[Path],
    public_key: str | None,
    note_files: list[Path],
    log_key: str | None,
    *,
    catch_up_first: bool,
) -> VerifyReport:
    with opened(replica=not catch_up_first) as (settings, ledger, store):
        if catch_up_first:
            store.ensure_tables()
            catch_up(ledger, store)
        checkpoints = store.checkpoints()
        for path in checkpoint_files:
            checkpoints += read_checkpoints(path)
        key = trusted_public_key(settings, public_key)
        notes = [text for _, text in store.notes(limit=1_000_000)]
        notes += [path.read_text() for path in note_files]
        try:
            verifier = trusted_verifier(settings, log_key)
        except NoteError as error:
            err.print(f"[red]--log-key: {error}[/red]")
            raise typer.Exit(2) from None
        head = log_head(ledger)
        with progress_bar("verifying") as bar:
            task = bar.add_task("verify", total=head or 1)
            return verify(
                ledger,
                store,
                checkpoints=checkpoints,
                public_key=key,
                notes=notes,
                verifier=verifier,
                progress=lambda position, total: bar.update(
                    task, completed=position, total=total or 1
                ),
            )


def _print_verify(report: VerifyReport) -> None:
    out.print(
        f"walked {report.events:,} events up to position {report.last_position} in"
        f" {report.seconds:.2f}s ({report.rate:,.0f} events/s); chain head {report.chain_head},"
        f" {report.checkpoints} signed checkpoint(s) checked; Merkle tree of"
        f" {report.tree_size:,} leaves, {report.tree_checkpoints} signed tree checkpoint(s)"
        " checked"
    )
    if report.unchained:
        out.print(
            f"{report.unchained} newer event(s) are not chained yet"
            " (`kvit audit follow` chains them; `verify --catch-up` does it now)"
        )
    if report.clean:
        out.print(
            "[green]OK[/green]: the log matches its hash chain, its stored tree and every"
            " checkpoint"
        )
        return
    first = report.first
    assert first is not None  # a report that is not clean has a first finding
    out.print(f"[red]TAMPERED[/red]: first difference at position {first.position} ({first.kind})")
    table = Table("position", "finding", "detail")
    for finding in report.findings:
        table.add_row(str(finding.position), finding.kind, finding.detail)
    out.print(table)
    if report.more_findings:
        out.print("… and more (only the first findings are listed)")


def replay(
    batch_size: int = typer.Option(5000, help="events per rebuild transaction"),
) -> None:
    """Rebuild every read model from the log into scratch tables, compare them with the live
    ones and the trial balance with the log's postings; exit 1 on any difference."""
    connections.apply(connections.Role.ONE_OFF)
    settings, read = AuditSettings(), ReadSettings()
    migrate_read_models(settings, read)
    ledger, store = build_ledger(settings), open_store(settings, read)
    try:
        with progress_bar("replaying") as bar:
            task = bar.add_task("replay", total=log_head(ledger) or 1)
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
