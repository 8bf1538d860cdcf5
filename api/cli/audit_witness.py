"""`kvit audit witness`: an auditor's process that follows a deployment's checkpoints and
cosigns each one consistent with the last it saw (audit/witness.py); with --publish it hands
the cosignature back to the deployment, which publishes it beside its own signature."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import typer

from api.cli.console import err
from audit.note import COSIGNATURE, NoteError, Verifier, raw_public
from audit.signing import NoSigningKeyError, parse_key_text
from audit.witness import InconsistentLogError, Witness, decode_proof

TIMEOUT = 10.0


def witness(
    log: str = typer.Option(..., help="the deployment's base URL, e.g. https://kvit.example"),
    log_key: str = typer.Option(..., help="the log's note verifier key, given out of band"),
    key_file: Path = typer.Option(..., "--key", help="this witness's Ed25519 key (hex seed)"),
    name: str = typer.Option(..., help="this witness's name (its cosignature key's name)"),
    state: Path = typer.Option(..., help="where the last cosigned checkpoint is kept"),
    publish: bool = typer.Option(False, help="POST each cosignature to the deployment"),
    interval: float = typer.Option(60.0, min=1.0, help="seconds between looks"),
    once: bool = typer.Option(False, help="look once and exit"),
) -> None:
    """Cosign every new checkpoint of a log that extends the last one seen; exit 1 at once on
    a fork or a rollback (and cosign nothing)."""
    try:
        verifier = Verifier.parse(log_key)
        key = parse_key_text(key_file.read_text(), str(key_file))
    except (NoteError, NoSigningKeyError, OSError) as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    ours = Verifier(name, COSIGNATURE, raw_public(key))
    err.print(f"witness key: {ours.text()}", markup=False, highlight=False)
    me = Witness(name, key, verifier, state)
    stop = threading.Event()
    base = log.rstrip("/")
    with httpx.Client(timeout=TIMEOUT) as client:

        def proof(first: int, second: int) -> list[bytes]:
            got = client.get(
                f"{base}/v1/audit/proof/consistency", params={"first": first, "second": second}
            )
            got.raise_for_status()
            return decode_proof(got.json()["proof"])

        while not stop.is_set():
            try:
                got = client.get(f"{base}/log/checkpoint")
                got.raise_for_status()
                done = me.observe(got.text, proof)
                print(done.line, end="", flush=True)
                if publish:
                    client.post(
                        f"{base}/log/cosignature",
                        params={"size": done.checkpoint.size},
                        content=done.line,
                        headers={"Content-Type": "text/plain"},
                    ).raise_for_status()
            except (InconsistentLogError, NoteError) as error:
                err.print(f"[red]refused: {error}[/red]")
                raise typer.Exit(1) from None
            except httpx.HTTPError as error:
                err.print(f"the log did not answer ({error}); trying again", markup=False)
            if once:
                return
            stop.wait(interval)
