"""`kvit acquirer reconcile`: settle card operations whose notification never came, by asking
the acquirer (T-Bank's GetState); once, or every N seconds as its own process."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from api.acquirer.base import AcquirerApi
from api.acquirer.configured import configured_acquirer
from api.acquirer.reconcile import reconcile
from api.cli.console import out
from api.cli.server import refuse
from api.settings import ApiSettings
from ledger.bootstrap import build_ledger

acquirer_cli = typer.Typer(help="The card acquirer.", no_args_is_help=True)


@acquirer_cli.command("reconcile")
def reconcile_command(
    older_than: float = typer.Option(
        60.0, min=0, help="ask only about operations opened at least this many seconds ago"
    ),
    every: float = typer.Option(
        0.0, min=0, help="run again every this many seconds until stopped (0: once)"
    ),
) -> None:
    """Ask T-Bank (GetState) about card payments and top-ups still waiting for their outcome,
    and record the final ones. Prints one line per run: checked, settled, still open."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = ApiSettings()
    acquirer = configured_acquirer(settings, webhook_secret="")  # the sandbox's is not used
    if not isinstance(acquirer, AcquirerApi):
        refuse(
            f"KVIT_ACQUIRER is {settings.acquirer_kind}: only an acquirer Kvit can ask"
            " (tbank) is reconciled"
        )
    ledger = build_ledger(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    after = 0
    try:
        while True:
            report = reconcile(ledger, acquirer, older_than_seconds=older_than, after=after)
            out.print(report.line(), markup=False, highlight=False)
            after = report.after
            if not every or stop.wait(every):
                break
    finally:
        ledger.close()
