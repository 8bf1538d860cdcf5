"""The FastAPI application. For now it serves health and the OpenAPI page (the API issue adds
the resident, operator and auditor routes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.settings import Settings


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = ledger or build_ledger(settings)
        yield
        if ledger is None:
            app.state.ledger.close()

    app = FastAPI(title="Kvit", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> dict[str, str | int]:
        """Readiness: the event store answers; reports the log's newest position."""
        position = app.state.ledger.recorder.max_notification_id() or 0
        return {"status": "ready", "position": position}

    return app
