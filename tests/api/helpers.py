"""Helpers for the API tests: settings, tokens, problem assertions, and set-up through the API.

The sandbox acquirer's webhook call is routed back into the same app in-process, so a test can
approve or decline a card operation the way a payer would, by posting to its checkout page.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.acquirer.sandbox import NOTIFICATIONS_PATH
from api.acquirer.signature import HEADER as SIGNATURE_HEADER
from api.acquirer.signature import sign
from api.app import create_app
from api.auth import Role, issue_token
from api.settings import ApiSettings
from ledger.application import Ledger
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, LINES, REQUISITES

SECRET = "test-secret-key-for-api-tests-0123456789"
ACQUIRER_SECRET = "test-acquirer-secret-for-api-tests-0123456789"
PUBLIC_URL = "http://kvit.test"
PROBLEM_JSON = "application/problem+json"

Headers = dict[str, str]


def api_settings(data_dir: Path, **overrides: Any) -> ApiSettings:
    """Settings that ignore the environment and any .env file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "secret_key": SECRET,
        "acquirer_secret": ACQUIRER_SECRET,
        "public_url": PUBLIC_URL,
        **overrides,
    }
    return ApiSettings(_env_file=None, **values)  # type: ignore[call-arg]


def build_app(data_dir: Path, ledger: Ledger, **overrides: Any) -> FastAPI:
    """The app, with the sandbox acquirer delivering its webhook call to this same app."""
    holder: dict[str, FastAPI] = {}

    async def deliver(body: bytes, headers: dict[str, str]) -> int:
        transport = httpx.ASGITransport(app=holder["app"])
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            response = await client.post(NOTIFICATIONS_PATH, content=body, headers=headers)
            return response.status_code

    app = create_app(api_settings(data_dir, **overrides), ledger=ledger, deliver=deliver)
    holder["app"] = app
    return app


# --- identities ----------------------------------------------------------------------------------
def bearer(role: Role, payer_id: str | None = None, secret: str = SECRET, **kwargs: Any) -> Headers:
    return {"Authorization": f"Bearer {issue_token(secret, role, payer_id, **kwargs)}"}


def keyed(headers: Headers, key: str | None = None) -> Headers:
    """The caller's headers plus an Idempotency-Key (a fresh one unless given)."""
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


# --- assertions ----------------------------------------------------------------------------------
def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["title"] and isinstance(body["detail"], str)
    return body


# --- setting things up through the API -----------------------------------------------------------
SUPPLIER = {"inn": INN, "kpp": KPP, "name": 'ООО "УК Пример"', "requisites": REQUISITES}
ADDRESS = "г. Москва, ул. Примерная, д. 1, кв. 1"
PERIOD = "2026-03"


def bill_body(document_id: str = DOCUMENT_ID, **overrides: Any) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "period": PERIOD,
        "lines": LINES,
        "due_date": "2026-04-15",
        **overrides,
    }


@dataclass(frozen=True)
class World:
    """A supplier, an account with one bill, linked to the resident, who has an empty wallet."""

    supplier_id: str
    account_id: str
    bill_id: str
    wallet_id: str


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def register_supplier(client: TestClient, operator: Headers, **overrides: Any) -> str:
    body = {**SUPPLIER, **overrides}
    return str(created(client.post("/v1/suppliers", json=body, headers=keyed(operator)))["id"])


def open_account(
    client: TestClient, operator: Headers, supplier_id: str, number: str = ACCOUNT_NUMBER
) -> str:
    body = {"supplier_id": supplier_id, "account_number": number, "address": ADDRESS}
    return str(created(client.post("/v1/accounts", json=body, headers=keyed(operator)))["id"])


def issue_bill(client: TestClient, operator: Headers, account_id: str, **overrides: Any) -> str:
    response = client.post(
        f"/v1/accounts/{account_id}/bills", json=bill_body(**overrides), headers=keyed(operator)
    )
    return str(created(response)["id"])


def link(
    client: TestClient,
    resident: Headers,
    inn: str = INN,
    number: str = ACCOUNT_NUMBER,
    proof: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Link with the ИПД of the world's bill as proof of possession (unless told otherwise)."""
    body: dict[str, Any] = {"supplier_inn": inn, "account_number": number}
    body["proof"] = {"document_id": DOCUMENT_ID} if proof is None else proof
    if not body["proof"]:
        del body["proof"]
    return created(client.post("/v1/me/accounts", json=body, headers=keyed(resident)))


def open_wallet(client: TestClient, resident: Headers) -> str:
    return str(created(client.post("/v1/me/wallets", headers=keyed(resident)))["id"])


def make_world(
    client: TestClient, operator: Headers, resident: Headers, *, wallet_balance: int = 0
) -> World:
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    bill_id = issue_bill(client, operator, account_id)
    link(client, resident)
    wallet_id = open_wallet(client, resident)
    if wallet_balance:
        fund(client, resident, wallet_id, wallet_balance)
    return World(supplier_id, account_id, bill_id, wallet_id)


def checkout(client: TestClient, checkout_url: str, *, approve: bool = True) -> None:
    """Act as the payer on the sandbox acquirer's page; it then calls the webhook."""
    page = client.get(checkout_url)
    assert page.status_code == 200, page.text
    amount = dict(p.split("=", 1) for p in urlsplit(checkout_url).query.split("&"))["amount"]
    decision = "approve" if approve else "decline"
    response = client.post(
        urlsplit(checkout_url).path,
        content=f"decision={decision}&amount={amount}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert 'data-notification-status="200"' in response.text, response.text


def fund(client: TestClient, resident: Headers, wallet_id: str, amount: int) -> None:
    """Top up by card and approve it at the sandbox acquirer."""
    top_up = created(
        client.post(
            f"/v1/wallets/{wallet_id}/top-ups", json={"amount": amount}, headers=keyed(resident)
        )
    )
    checkout(client, top_up["checkout_url"])


def wallet_balance(client: TestClient, resident: Headers, wallet_id: str) -> int:
    response = client.get(f"/v1/wallets/{wallet_id}", headers=resident)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def account(client: TestClient, operator: Headers, account_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/accounts/{account_id}", headers=operator)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def my_payments(client: TestClient, resident: Headers, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/me/payments", params=params, headers=resident)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def pay(client: TestClient, resident: Headers, world: World, **body: Any) -> dict[str, Any]:
    """Create a payment of the world's account (by wallet unless told otherwise)."""
    request: dict[str, Any] = {"account_id": world.account_id, "method": "wallet"}
    if body.get("method", "wallet") == "wallet":
        request["wallet_id"] = world.wallet_id
    request.update(body)
    return created(client.post("/v1/payments", json=request, headers=keyed(resident)))


# --- the acquirer's webhook ----------------------------------------------------------------------
def notification(
    operation_id: str, amount: int, status: str = "succeeded", ref: str = "acq-1"
) -> bytes:
    return json.dumps(
        {"operation_id": operation_id, "status": status, "amount": amount, "acquirer_ref": ref}
    ).encode()


def signed(body: bytes, *, secret: str = ACQUIRER_SECRET, at: int | None = None) -> Headers:
    timestamp = int(time.time()) if at is None else at
    return {SIGNATURE_HEADER: sign(secret, body, timestamp), "content-type": "application/json"}


def notify(client: TestClient, body: bytes, headers: Headers | None = None) -> httpx.Response:
    return client.post(NOTIFICATIONS_PATH, content=body, headers=headers or signed(body))
