"""The FastAPI application: the resident, operator and auditor contract.

One Ledger (write side) and one ReadModels (read side) per process. Routes are plain `def`
functions (the event store has no async API), run in the threadpool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import link_attempts, metrics, problems, web
from api.acquirer import sandbox
from api.auth import acquirer_secret, secret_key
from api.config_checks import check_secrets
from api.guards import BodySizeLimit, RequireToken
from api.routes import (
    accounts,
    acquirer,
    audit,
    bank_notices,
    bill_documents,
    bills,
    me,
    notice_views,
    ops,
    payments,
    supplier_register,
    suppliers,
    wallets,
)
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from mail.service import NoticeService
from projections.read_models import ReadModels


def create_app(
    settings: ApiSettings | None = None,
    *,
    ledger: Ledger | None = None,
    deliver: sandbox.Deliver | None = None,
) -> FastAPI:
    """`ledger` lets tests share one in-memory ledger; `deliver` replaces the sandbox
    acquirer's HTTP call to the webhook (tests route it through their own client)."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = ledger or build_ledger(settings)
        app.state.read_models = ReadModels(settings, app.state.ledger).start()
        if not settings.uses_postgres:  # on PostgreSQL `kvit migrate` creates it
            link_attempts.migrate(app.state.read_models.store)
        app.state.link_attempts = link_attempts.LinkAttempts(
            app.state.read_models.store,
            settings.link_attempts_limit,
            settings.link_attempts_window_seconds,
        )
        # Embedded mode sends notices from this process; on PostgreSQL `kvit mail` does.
        notices = None
        if settings.smtp_url and not settings.uses_postgres:
            notices = NoticeService(settings, app.state.ledger).start_thread()
        yield
        if notices is not None:
            notices.close()
        app.state.read_models.close()
        if ledger is None:
            app.state.ledger.close()

    # Swagger UI and ReDoc served from the assets the fastapi-offline package ships, so /docs
    # works without reaching a CDN.
    app = FastAPIOffline(
        title="Kvit",
        version="0.1.0",
        summary="Event-sourced payment ledger for housing and utility bills (ЖКУ)",
        lifespan=lifespan,
    )
    check_secrets(settings)  # refuse guessable secrets before serving anything
    app.state.settings = settings
    app.state.secret_key = secret_key(settings)
    app.state.acquirer_secret = acquirer_secret(settings)
    app.state.acquirer = sandbox.SandboxAcquirer(
        settings.base_url, app.state.acquirer_secret, deliver
    )
    problems.install(app)
    metrics.install(app)
    # Added last, so they run first: before any route reads the body.
    app.add_middleware(RequireToken)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        streamed={bank_notices.BATCH_PATH: settings.max_register_bytes},
    )
    for module in (
        ops,
        suppliers,
        supplier_register,
        accounts,
        bill_documents,
        bills,
        bank_notices,
        me,
        wallets,
        payments,
        acquirer,
        notice_views,
    ):
        app.include_router(module.router)
    if settings.sandbox_enabled:  # a development choice (see ApiSettings.sandbox_acquirer)
        app.include_router(sandbox.router)
    app.include_router(audit.router)  # its lifespan runs the embedded chain follower
    web.install(app)  # the resident's cabinet at /
    return app
