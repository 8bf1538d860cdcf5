"""`kvit serve`'s writer: the one process that writes the event store (ledger/engine/writer.py),
started and restarted by `kvit serve` (api/cli/writer_supervisor.py), never by hand."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer

from ledger.bootstrap import build_ledger
from ledger.engine import connections
from ledger.engine.writer import Writer
from ledger.settings import Settings


def writer(
    socket: Path = typer.Option(..., help="the Unix socket to listen on"),
) -> None:
    """Run the event store's one writer (kvit serve starts it; not for use by hand)."""
    connections.apply(connections.Role.WRITER)
    ledger = build_ledger(Settings())
    # Nobody else writes here on the happy path: a conflict is rare, its re-run reads the
    # store once, and the copy it leaves is current again at once.
    ledger.aggregate_cache.distrust_seconds = 0.0
    server = Writer(ledger, socket)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.bind()
    try:
        server.serve_forever()
    finally:
        ledger.close()
