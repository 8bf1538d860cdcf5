"""`kvit demo`: a small, realistic history in the configured database (api/demo.py writes it),
with the read models and the audit chain brought up to date and a checkpoint signed. On
PostgreSQL the read models a running `kvit project` keeps are left to it (the demo waits)."""

from __future__ import annotations

import typer

from api.cli.audit_session import opened
from api.cli.console import err, out
from api.cli.server import migrate_all
from api.demo import fill, fill_cabinet
from api.settings import ApiSettings
from api.web import demo_sign_in_enabled
from audit.service import checkpoint_now
from audit.signing import AuditSettings, signing_key
from projections.settings import ReadSettings, open_store
from projections.up_to_date import bring_up_to_date


def demo(
    suppliers: int = typer.Option(2, min=1, max=50),
    accounts: int = typer.Option(5, min=1, max=500, help="personal accounts per supplier"),
    months: int = typer.Option(3, min=1, max=11),
    cabinet: bool = typer.Option(
        True,
        help="also leave this month's bills unpaid, fund some wallets and open unlinked"
        " accounts, for the resident's cabinet (--no-cabinet: only the auditor's history)",
    ),
    wait: float = typer.Option(
        120.0,
        min=1,
        max=3600,
        help="seconds to wait for a running `kvit project` to apply the history (PostgreSQL)",
    ),
) -> None:
    """Fill the configured database (embedded SQLite by default) with a small, realistic
    history; bring the read models and the audit chain up to date; sign a checkpoint. Then
    print how to open the resident's cabinet on it."""
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
        try:
            bring_up_to_date(
                ledger, read, batch_size=2000, timeout=wait, say=lambda line: err.print(line)
            )
        finally:
            read.close()
        signed = checkpoint_now(ledger, store, settings)
    out.print(
        f"demo: {summary.suppliers} suppliers, {summary.accounts} personal accounts,"
        f" {summary.payments} payments; the log holds {summary.events} events; checkpoint"
        f" signed at position {signed['position']}"
    )
    if extra is not None:
        out.print(
            f"cabinet: {extra.open_bills} unpaid bills, {extra.funded_wallets} funded wallets;"
            f" the log now holds {signed['position']} events\n" + how_to_open(extra.unlinked[0])
        )


def how_to_open(unlinked: tuple[str, str]) -> str:
    """Where to sign in: picking a demo resident only where the page offers demo sign-in."""
    settings = ApiSettings()
    inn, number = unlinked
    linking = f"; to try linking, supplier ИНН {inn} and account number {number}"
    residents = "resident-1-1 … has money in the wallet, resident-2-1 … has none"
    if demo_sign_in_enabled(settings):
        return (
            f"open it: kvit serve, then {settings.base_url}/ and pick a demo resident"
            f" ({residents}){linking}"
        )
    return (
        f"open it at {settings.base_url}/ (kvit serve): demo sign-in is off here"
        " (KVIT_CABINET_DEMO_SIGN_IN), so paste a resident token from"
        f" `kvit token --role resident --payer resident-1-1` ({residents}){linking}"
    )
