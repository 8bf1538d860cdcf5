"""The sandbox acquirer for development and tests.

`open` gives a page where the payer approves or declines; the sandbox then posts a signed
notification to the webhook, as a real acquirer would.
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

from api.acquirer.base import CardOrder, Checkout
from api.acquirer.signature import HEADER, sign

NOTIFICATIONS_PATH = "/v1/acquirer/notifications"
Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]


class SandboxAcquirer:
    name = "sandbox"

    def __init__(self, public_url: str, secret: str, deliver: Deliver | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.deliver = deliver or self._post

    def open(self, order: CardOrder) -> Checkout:
        query = urlencode({"amount": order.amount, "description": order.description})
        return Checkout(
            acquirer_payment_id=f"sandbox-{order.operation_id}",
            payment_url=f"{self.public_url}/sandbox/checkout/{order.operation_id}?{query}",
        )

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


STYLE = """body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2129;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:12px;padding:2rem;
box-shadow:0 1px 4px #0002}h1{font-size:1.25rem;margin:0 0 .25rem}.note{color:#5b6470;
font-size:.875rem;margin:0 0 1.5rem}.sum{font-size:2rem;font-weight:600;margin:.5rem 0 1.5rem}
form{display:flex;gap:.75rem}button{flex:1;font:inherit;padding:.75rem;border-radius:8px;
border:1px solid #c5cad1;background:#fff;cursor:pointer}button.pay{background:#1f6feb;
color:#fff;border-color:#1f6feb}a{color:#1f6feb}"""

PAGE = """<!doctype html><html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Оплата картой — песочница</title><style>{style}</style></head><body><main>
<h1>Оплата картой</h1><p class="note">Песочница разработчика: карта не списывается.</p>
<p>{description}</p><p class="sum">{rubles} ₽</p>
<form method="post"><input type="hidden" name="amount" value="{amount}">
<button class="pay" name="decision" value="approve">Оплатить</button>
<button name="decision" value="decline">Отклонить</button></form></main></body></html>"""

RESULT = """<!doctype html><html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Оплата картой — песочница</title><style>{style}</style></head><body><main>
<h1>{verdict}</h1><p class="note" data-notification-status="{status}">{delivery}</p>
<p><a href="/">Вернуться в личный кабинет</a></p></main></body></html>"""


def checkout_router(sandbox: SandboxAcquirer) -> APIRouter:
    """The sandbox's checkout pages, which report the payer's decision through `sandbox`."""
    router = APIRouter(prefix="/sandbox", include_in_schema=False)

    @router.get("/checkout/{operation_id}", response_class=HTMLResponse)
    def checkout_page(operation_id: UUID, amount: int, description: str = "") -> str:
        return PAGE.format(
            style=STYLE,
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
        delivered = (
            "Квит получил уведомление о результате."
            if status == 200
            else (f"Квит не принял уведомление (ответ {status}).")
        )
        return RESULT.format(
            style=STYLE,
            verdict="Платёж одобрен" if approved else "Платёж отклонён",
            status=status,
            delivery=delivered,
        )

    return router
