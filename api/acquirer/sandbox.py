"""The sandbox acquirer for development and tests.

`checkout_url` leads to a page where the payer approves or declines; the sandbox then posts a
signed notification to the webhook, as a real acquirer would.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.acquirer.signature import HEADER, sign

NOTIFICATIONS_PATH = "/v1/acquirer/notifications"
Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]


class SandboxAcquirer:
    def __init__(self, public_url: str, secret: str, deliver: Deliver | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.deliver = deliver or self._post

    def checkout_url(self, operation_id: UUID, amount: int, description: str) -> str:
        query = urlencode({"amount": amount, "description": description})
        return f"{self.public_url}/sandbox/checkout/{operation_id}?{query}"

    async def notify(self, operation_id: str, *, approved: bool, amount: int) -> int:
        body = json.dumps(
            {
                "operation_id": operation_id,
                "status": "succeeded" if approved else "declined",
                "amount": amount,
                "acquirer_ref": f"sandbox-{uuid.uuid4().hex[:16]}",
            }
        ).encode()
        headers = {HEADER: sign(self.secret, body), "content-type": "application/json"}
        return await self.deliver(body, headers)

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                self.public_url + NOTIFICATIONS_PATH, content=body, headers=headers
            )
            return response.status_code


PAGE = """<!doctype html><html lang="ru"><meta charset="utf-8"><title>Sandbox acquirer</title>
<body><h1>Оплата картой (песочница)</h1><p>{description}</p><p>Сумма: {rubles} ₽</p>
<form method="post"><input type="hidden" name="amount" value="{amount}">
<button name="decision" value="approve">Оплатить</button>
<button name="decision" value="decline">Отклонить</button></form></body></html>"""


def checkout_router(sandbox: SandboxAcquirer) -> APIRouter:
    """The sandbox's checkout pages, which report the payer's decision through `sandbox`."""
    router = APIRouter(prefix="/sandbox", include_in_schema=False)

    @router.get("/checkout/{operation_id}", response_class=HTMLResponse)
    def checkout_page(operation_id: UUID, amount: int, description: str = "") -> str:
        return PAGE.format(
            description=html.escape(description),
            rubles=f"{amount // 100},{amount % 100:02d}",
            amount=amount,
        )

    @router.post("/checkout/{operation_id}", response_class=HTMLResponse)
    async def checkout_decision(operation_id: UUID, request: Request) -> str:
        form = parse_qs((await request.body()).decode(errors="replace"))
        approved = form.get("decision", ["decline"])[0] == "approve"
        given = form.get("amount", ["0"])[0]
        amount = int(given) if given.isascii() and given.isdigit() and len(given) < 15 else 0
        status = await sandbox.notify(str(operation_id), approved=approved, amount=amount)
        verdict = "одобрена" if approved else "отклонена"
        return f"<!doctype html><p>Операция {verdict}. Webhook answered {status}.</p>"

    return router
