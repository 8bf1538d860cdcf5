"""`kvit audit follow | keygen | checkpoint | public-key | build-tree`: keeping the hash chain
and the Merkle tree, and the key their checkpoints are signed with."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from api.cli.audit_session import opened
from api.cli.console import err, out, progress_bar
from api.cli.errors import describe
from audit.chain import CatchUp, Checkpointer, TreeMismatchError, build_tree, catch_up
from audit.note import ED25519, Verifier, raw_public
from audit.service import EmptyLogError, checkpoint_now, sign_head
from audit.signing import (
    KEY_FILE,
    AuditSettings,
    NoSigningKeyError,
    new_key_file,
    public_hex,
    signing_key,
    write_checkpoint,
)
from ledger.application import Ledger
from ledger.engine import connections
from projections import followers
from projections.settings import ReadSettings, open_store
from storage.faults import cured_by_reconnecting
from storage.listen import open_listener
from storage.preflight import require_schema

RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0


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
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    settings = AuditSettings()
    signing_key(settings)  # fail now, before writing anything, not at the first checkpoint
    require_schema(settings, application=Ledger.name, read_tables=())
    pause = RECONNECT_FIRST

    def connected() -> None:
        nonlocal pause
        pause = RECONNECT_FIRST

    while not stop.is_set():
        try:
            _follow(settings, every, interval, stop, on_progress=connected)
        except Exception as error:
            if not cured_by_reconnecting(error):  # e.g. LISTEN refused during recovery
                raise
            err.print(
                f"lost the database ({describe(error)}); reconnecting in {pause:.0f}s",
                markup=False,
                highlight=False,
            )
            stop.wait(pause)
            pause = min(pause * 2, RECONNECT_MAX)


def _follow(
    settings: AuditSettings,
    every: int,
    interval: float,
    stop: threading.Event,
    on_progress: Callable[[], None],
) -> None:
    with (
        opened(tables=True, role=connections.Role.AUDIT) as (_, ledger, store),
        _heartbeat(settings) as heartbeat,
    ):
        store.keep_writer = True  # one connection for the follower's life, not one a batch
        checkpointer = Checkpointer(
            lambda head: err.print(
                f"signed checkpoint at position {sign_head(settings, store, head)['position']}"
            ),
            every_events=every or settings.audit_checkpoint_every_events,
            interval=interval or settings.audit_checkpoint_interval_seconds,
            last=store.head(),
        )
        # Woken by each commit's NOTIFY on PostgreSQL; elsewhere a poll every half second.
        listener = open_listener(ledger, settings.database_url or "")
        head = store.head()
        err.print(f"following the log from chain position {head.position if head else 0}")
        heartbeat.beat(now=True)
        done: CatchUp | None = None
        try:
            while not stop.is_set():
                done = catch_up(ledger, store, known=done, progress=lambda _: heartbeat.beat())
                checkpointer(done.head)
                on_progress()
                heartbeat.beat()
                if listener is not None:
                    woken = False
                    # Linger once after the loop: it yields every notification of a packet,
                    # and a linger for each let the follower fall ever further behind.
                    for _ in listener.notifies(timeout=1.0, stop_after=1):
                        woken = True
                    if woken:
                        stop.wait(settings.audit_follow_linger_seconds)  # let a batch gather
                else:
                    stop.wait(0.5)
            heartbeat.forget()  # stopped on purpose: no longer expected
        finally:
            if listener is not None:
                listener.close()


@contextmanager
def _heartbeat(settings: AuditSettings) -> Iterator[followers.Heartbeat]:
    """The follower's beats for `/readyz`, in the read models' database (one connection)."""
    store = open_store(settings, ReadSettings())
    heartbeat = followers.Heartbeat(store, [followers.AUDIT])
    try:
        yield heartbeat
    finally:
        heartbeat.close()
        store.close()


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
    print(Verifier(settings.origin, ED25519, raw_public(key)).text())


def build_tree_command() -> None:
    """Build the Merkle tree for a log chained before the tree existed (the follower grows it
    from then on); refuses a log that no longer matches its chain."""
    with opened(tables=True) as (_, ledger, store), progress_bar("building the tree") as bar:
        head = store.head()
        task = bar.add_task("tree", total=(head.seq if head else 0) or 1)
        try:
            added = build_tree(
                ledger, store, progress=lambda size, total: bar.update(task, completed=size)
            )
        except TreeMismatchError as error:
            err.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
    out.print(f"the tree holds {store.tree_size():,} leaves ({added:,} added)")


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


def public_key() -> None:
    """Print the public key (hex) that checkpoints are signed with, and the log's note
    verifier key (`<origin>+<key ID>+<base64>`): give them to auditors."""
    settings = AuditSettings()
    try:
        key = signing_key(settings)
        print(public_hex(key))
        print(Verifier(settings.origin, ED25519, raw_public(key)).text())
    except NoSigningKeyError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
