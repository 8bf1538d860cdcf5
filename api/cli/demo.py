"""`kvit demo`: a small, realistic history in the configured database (api/demo.py writes it),
with the read models and the audit chain brought up to date and a checkpoint signed."""

from __future__ import annotations

import typer

from api.cli.audit_session import opened
from api.cli.console import out
from api.cli.server import migrate_all
from api.demo import fill, fill_cabinet
from api.settings import ApiSettings
from audit.service import checkpoint_now
from audit.signing import AuditSettings, signing_key
from projections import models
from projections.projector import Projector
from projections.settings import ReadSettings, open_store


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
