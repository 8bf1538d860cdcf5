"""`kvit audit verify --from URL`: check a deployment's log from the tiles it serves
(audit/remote.py), over HTTP; exit 1 on any finding, 2 when it cannot be checked at all."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn
from urllib.parse import urljoin

import httpx
import typer
from rich.table import Table

from api.cli.console import err, out, progress_bar
from audit.note import Checkpoint, NoteError, Verifier, parse_checkpoint
from audit.remote import MissingError, RemoteReport, verify_remote
from audit.service import trusted_verifier
from audit.signing import AuditSettings

TIMEOUT = 30.0
KEY_PATH = "/v1/audit/key"
EXIT_FINDINGS, EXIT_UNUSABLE = 1, 2


def verify_from(
    url: str,
    *,
    log_key: str | None,
    trust_served_key: bool,
    token: str | None,
    state: Path | None,
    as_json: bool,
) -> None:
    base = url if url.endswith("/") else url + "/"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(timeout=TIMEOUT, headers=headers, follow_redirects=True) as client:

        def fetch(path: str) -> bytes:
            got = client.get(base + path)
            if got.status_code == 404:
                raise MissingError(path)
            if got.status_code in (401, 403):
                _unusable(
                    f"{base}{path}: {got.status_code}; entries are served to auditors: give"
                    " --token (a `kvit token --role auditor`) and the /v1/audit/log/ prefix"
                )
            got.raise_for_status()
            return got.content

        try:
            verifier, whose = _verifier(client, base, log_key, trust_served_key)
            kept = parse_checkpoint(state.read_text()) if state and state.exists() else None
            with progress_bar("fetching") as bar:
                task = bar.add_task("verify", total=1)
                report, checkpoint = verify_remote(
                    fetch,
                    verifier,
                    kept=kept,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except (NoteError, OSError) as error:
            _unusable(str(error))
        except httpx.HTTPError as error:
            _unusable(f"{base}: {error}")
    if report.size and not report.bundles and report.findings[0].kind == "missing":
        _unusable(
            f"{base} serves no entries ({report.findings[0].detail}): entries are served to"
            " auditors under /v1/audit/log/, with --token"
        )
    if report.clean and checkpoint is not None and state is not None:
        temporary = state.with_suffix(state.suffix + ".tmp")
        temporary.write_text(checkpoint.body())
        temporary.replace(state)
    if as_json:
        body = {k: v for k, v in asdict(report).items() if k not in ("findings", "root")}
        findings = [asdict(f) for f in report.findings]
        print(json.dumps({**body, "key": verifier.text(), "findings": findings}, indent=2))
    else:
        _print(report, base, verifier, whose, kept, state)
    if not report.clean:
        raise typer.Exit(EXIT_FINDINGS)


def _verifier(
    client: httpx.Client, base: str, given: str | None, trust_served: bool
) -> tuple[Verifier, str]:
    """The log key to trust and where it came from: given > configured here > served (only
    when asked: a deployment that serves its own key proves only that it agrees with itself)."""
    if given:
        return Verifier.parse(given), "given"
    configured = trusted_verifier(AuditSettings())
    if configured is not None:
        return configured, "configured here"
    if not trust_served:
        _unusable(
            "give --log-key (the log's verifier key, from its operator out of band), or"
            " --trust-served-key to take the one the deployment serves"
        )
    got = client.get(urljoin(base, KEY_PATH))
    got.raise_for_status()
    return Verifier.parse(got.text), "served by the deployment, not checked independently"


def _unusable(message: str) -> NoReturn:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(EXIT_UNUSABLE)


def _print(
    report: RemoteReport,
    base: str,
    verifier: Verifier,
    whose: str,
    kept: Checkpoint | None,
    state: Path | None,
) -> None:
    out.print(
        f"fetched {report.size:,} entries in {report.bundles} bundle(s) and checked"
        f" {report.tiles} hash tile(s) from {base} in {report.seconds:.2f}s"
        f" ({report.rate:,.0f} entries/s); checkpoint of size {report.size} for"
        f" {report.origin or '?'}, key {verifier.name}+{verifier.id.hex()} ({whose})",
        highlight=False,
    )
    if kept is not None:
        out.print(f"compared with the checkpoint of size {kept.size} kept in {state}")
    if report.clean:
        out.print(
            "[green]OK[/green]: the tree recomputed from the entries has the signed root, every"
            " tile matches it" + (", and it extends the kept checkpoint" if kept else "")
        )
        return
    first = report.findings[0]
    out.print(f"[red]TAMPERED[/red]: first difference at leaf {first.leaf} ({first.kind})")
    table = Table("leaf", "finding", "detail")
    for finding in report.findings:
        table.add_row(str(finding.leaf), finding.kind, finding.detail)
    out.print(table)
