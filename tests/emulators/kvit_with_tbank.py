"""Kvit served over real HTTP with T-Bank as its acquirer, the T-Bank emulator beside it:
requests go from Kvit to the emulator, notifications from the emulator back to Kvit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.auth import Role
from ledger.application import Ledger
from projections import queries
from tests.api.helpers import World, api_settings, bearer, make_world
from tests.emulators.serving import serving
from tests.emulators.tbank import PASSWORD, TERMINAL_KEY, TBankEmulator
from tests.processes import free_port

OPERATOR = bearer(Role.OPERATOR)
ANNA = bearer(Role.RESIDENT, "payer-anna")
AGENT_PHONE = "+74950000000"


@dataclass
class Running:
    client: httpx.Client
    emulator: TBankEmulator
    ledger: Ledger
    app: FastAPI
    world: World

    def money(self) -> dict[str, int]:
        """The trial balance's totals per kind of ledger account (and the grand total)."""
        read_models = self.app.state.services.started().read_models
        read_models.wait_for(self.ledger.recorder.max_notification_id() or 0)
        balance = queries.trial_balance(read_models)
        return {**balance.totals, "total": balance.total}


@contextmanager
def kvit_with_tbank(tmp_path: Path, ledger: Ledger, **settings: Any) -> Iterator[Running]:
    emulator = TBankEmulator()
    with serving(emulator.app) as emulator_url:
        emulator.base_url = emulator_url
        port = free_port()
        app = create_app(
            api_settings(
                tmp_path,
                public_url=f"http://127.0.0.1:{port}",
                acquirer="tbank",
                tbank_terminal_key=TERMINAL_KEY,
                tbank_password=PASSWORD,
                tbank_api_url=f"{emulator_url}/v2",
                tbank_agent_phone=AGENT_PHONE,
                acquirer_reconcile_seconds=0,
                **settings,
            ),
            ledger=ledger,
        )
        with serving(app, port) as url, httpx.Client(base_url=url, timeout=30) as client:
            world = make_world(client, OPERATOR, ANNA)  # type: ignore[arg-type]
            yield Running(client, emulator, ledger, app, world)
