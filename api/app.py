"""The FastAPI application: the resident, operator and auditor contract.

One Ledger (write side) and one ReadModels (read side) per process, wired by api/bootstrap.py
and reached by routes through api/deps.py. Routes are plain `def` functions (the event store
has no async API), run in the threadpool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from api import metrics, problem_handlers, web
from api.acquirer import sandbox
from api.acquirer.base import Acquirer
from api.acquirer.configured import configured_acquirer
from api.auth import acquirer_secret, secret_key
from api.bootstrap import Services, run
from api.config_checks import check_settings
from api.guards import BodySizeLimit, ReceiveDeadline, RequireToken
from api.oidc import routes as sign_in
from api.routes import (
    accounts,
    acquirer,
    audit,
    bank_notices,
    bill_documents,
    bills,
    cards,
    day_report,
    me,
    notice_views,
    ops,
    payments,
    receipt_codes,
    suppliers,
    tbank,
    transparency,
    wallets,
)
from api.settings import ApiSettings
from ledger.application import Ledger

ROUTERS = [
    module.router
    for module in (
        ops,
        suppliers,
        day_report,
        accounts,
        bill_documents,
        bills,
        bank_notices,
        me,
        wallets,
        payments,
        receipt_codes,
        cards,
        acquirer,
        tbank,
        notice_views,
        sign_in,  # /auth: the cabinet's OpenID Connect sign-in
    )
] + [transparency.readers, transparency.public]
# Kvit exports Prometheus metrics (api/metrics.py) and sets up no OpenTelemetry. Left on,
# FastAPI's own telemetry asks OpenTelemetry's three global providers (through os.environ) on
# every request, only to find none: ~10 µs a request, 5 % of a payment worker's py-spy samples.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def create_app(
    settings: ApiSettings | None = None,
    *,
    ledger: Ledger | None = None,
    acquirer: Acquirer | None = None,
    deliver: sandbox.Deliver | None = None,
) -> FastAPI:
    """The one place the process is wired (see api/bootstrap.py). `ledger` lets tests share
    one in-memory ledger; `acquirer` plugs in another card acquirer (default: the one
    KVIT_ACQUIRER names: T-Bank, or the built-in sandbox, whose HTTP call to the webhook
    `deliver` replaces in tests; or none, and card payments are refused)."""
    settings = settings or ApiSettings()
    check_settings(settings)  # refuse guessable secrets and broken sign-in before serving
    token_secret = secret_key(settings)
    webhook_secret = acquirer_secret(settings)
    if acquirer is None:
        acquirer = configured_acquirer(settings, webhook_secret, deliver)
    sandbox_acquirer = acquirer if isinstance(acquirer, sandbox.SandboxAcquirer) else None
    services = Services(
        settings=settings,
        secret_key=token_secret,
        acquirer_secret=webhook_secret,
        acquirer=acquirer,
        cabinet_demo=web.demo_sign_in_enabled(settings),
        sandbox_checkout=sandbox_acquirer is not None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with run(settings, ledger, acquirer) as running:
            services.running = running
            try:
                yield
            finally:
                services.running = None

    # Swagger UI and ReDoc served from the assets the fastapi-offline package ships, so /docs
    # works without reaching a CDN.
    app = FastAPIOffline(
        title="Kvit",
        version="0.1.0",
        summary="Event-sourced payment ledger for housing and utility bills (ЖКУ)",
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.services = services
    problem_handlers.install(app)
    metrics.install(app)
    # Added last, so they run first, outermost first: the receive deadline, then the token
    # (before anything reads the body), then the body's size.
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        streamed={bank_notices.BATCH_PATH: settings.max_register_bytes},
    )
    app.add_middleware(RequireToken, services=services)
    app.add_middleware(
        ReceiveDeadline,
        seconds=settings.request_receive_timeout_seconds,
        streamed={bank_notices.BATCH_PATH: settings.register_receive_timeout_seconds},
    )
    for router in ROUTERS:
        app.include_router(router)
    # A development choice (see ApiSettings.sandbox_acquirer), and only for the sandbox itself.
    if sandbox_acquirer is not None:
        app.include_router(sandbox.checkout_router(sandbox_acquirer))
    app.include_router(audit.router)
    web.install(app)  # the resident's cabinet at /
    return app
