"""The resident's cabinet: static files at `/` (plain HTML, CSS and JS modules, no build step)
and, in demo mode, a sign-in that picks a demo resident.

Everything the page shows comes from the JSON API under /v1. With an identity provider
(KVIT_OIDC_ISSUER) the page signs in through it and calls the API on a session cookie
(api/oidc/routes.py), and nothing else signs it in. Without one, it holds a bearer token: a
demo resident picked here (demo mode only), a token pasted by hand, or one handed over by a
redirect to `/#token=<JWT>` (asked about first: views/handover.js).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import Response
from starlette.staticfiles import PathLike
from starlette.types import Scope

from api.acquirer.base import Acquirer, AcquirerApi
from api.acquirer.checkout import receipts_required
from api.auth import Role, issue_token
from api.deps import ReadDep, TokenSecretDep, services_of
from api.problems import ForbiddenProblem
from api.schemas.accounts import LinkAccountBody
from api.settings import ApiSettings

STATIC = Path(__file__).with_name("cabinet")
DEMO_TOKEN_SECONDS = 12 * 3600
# The page loads nothing from elsewhere; this keeps it so.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class CabinetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KVIT_CABINET_", env_file=".env", extra="ignore")

    demo_sign_in: bool | None = None
    """Let the page sign in as any resident without a password (KVIT_CABINET_DEMO_SIGN_IN).
    Unset: on in embedded SQLite mode, off on PostgreSQL."""


class CabinetConfig(BaseModel):
    demo: bool
    sandbox_acquirer: bool
    card_payments: bool
    """An acquirer is configured; without one the page offers no card payment or top-up."""
    saved_cards: bool = False
    """The acquirer keeps cards (T-Bank): the page offers to save one and to pay with it."""
    receipt_email: bool = False
    """A card payment needs the payer's e-mail, for the acquirer's fiscal receipt (54-ФЗ)."""
    link_proof: bool
    """Whether linking takes a proof of possession (issue 9); the page shows the field if so."""
    oidc: bool = False
    """Residents sign in through the identity provider (/auth/login), on a session cookie."""


class DemoResident(BaseModel):
    payer_id: str
    accounts: int


class DemoSignIn(BaseModel):
    payer_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")]


class DemoToken(BaseModel):
    token: str
    payer_id: str


router = APIRouter(prefix="/cabinet", include_in_schema=False)


def demo_sign_in_enabled(settings: ApiSettings) -> bool:
    """KVIT_CABINET_DEMO_SIGN_IN, else on in embedded mode without an identity provider."""
    demo = CabinetSettings().demo_sign_in
    if demo is None:
        return not settings.uses_postgres and not settings.oidc_enabled
    return demo


async def demo_enabled(request: Request) -> bool:
    return services_of(request).cabinet_demo


async def sandbox_checkout(request: Request) -> bool:
    return services_of(request).sandbox_checkout


async def card_payments(request: Request) -> bool:
    return services_of(request).acquirer is not None


async def acquirer_of(request: Request) -> Acquirer | None:
    return services_of(request).acquirer


async def oidc_sign_in(request: Request) -> bool:
    return services_of(request).identity is not None


DemoDep = Annotated[bool, Depends(demo_enabled)]


@router.get("/config.json", response_model=CabinetConfig)
def config(
    demo: DemoDep,
    sandbox: Annotated[bool, Depends(sandbox_checkout)],
    cards: Annotated[bool, Depends(card_payments)],
    acquirer: Annotated[Acquirer | None, Depends(acquirer_of)],
    oidc: Annotated[bool, Depends(oidc_sign_in)],
) -> CabinetConfig:
    return CabinetConfig(
        demo=demo,
        sandbox_acquirer=sandbox,  # an injected acquirer has no sandbox pages
        card_payments=cards,
        saved_cards=isinstance(acquirer, AcquirerApi),
        receipt_email=acquirer is not None and receipts_required(acquirer),
        link_proof="proof" in LinkAccountBody.model_fields,
        oidc=oidc,
    )


@router.get("/demo/residents", response_model=list[DemoResident])
def demo_residents(demo: DemoDep, read_models: ReadDep) -> list[DemoResident]:
    """Residents who have linked accounts, for the demo sign-in's list."""
    if not demo:
        raise ForbiddenProblem("demo sign-in is off (KVIT_CABINET_DEMO_SIGN_IN)")
    with read_models.store.read() as tx:
        rows = tx.execute(
            f"SELECT payer_id, COUNT(*) FROM {tx.store.name('rm_account_payer')}"
            " GROUP BY payer_id ORDER BY payer_id LIMIT 50"
        )
    return [DemoResident(payer_id=payer, accounts=count) for payer, count in rows]


@router.post("/demo/sign-in", response_model=DemoToken)
def demo_sign_in(body: DemoSignIn, demo: DemoDep, secret: TokenSecretDep) -> DemoToken:
    if not demo:
        raise ForbiddenProblem("demo sign-in is off (KVIT_CABINET_DEMO_SIGN_IN)")
    token = issue_token(secret, Role.RESIDENT, body.payer_id, DEMO_TOKEN_SECONDS)
    return DemoToken(token=token, payer_id=body.payer_id)


class CabinetFiles(StaticFiles):
    """Static files with the page's security headers; revalidated by ETag on every load."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the cabinet at `/` and its files under /cabinet/."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    app.include_router(router)
    app.mount("/cabinet", CabinetFiles(directory=STATIC), name="cabinet")
