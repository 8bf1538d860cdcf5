"""Contract fuzzing: schemathesis against the OpenAPI document the app serves, in process.

Every operation gets positive and negative cases; the response must never be a 5xx and must
match the document (status code, content type, body schema). The app is one per module and
its state grows as the fuzzer goes; most generated ids are swapped for ids that exist, so the
cases reach the ledger instead of stopping at a 404. Bounded and derandomised for CI.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.acquirer.signature import HEADER as SIGNATURE_HEADER
from api.auth import Role
from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    World,
    bearer,
    build_app,
    keyed,
    make_world,
    pay,
    signed,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
RESIDENT_OPERATIONS = {
    "POST /v1/me/accounts",
    "GET /v1/me/accounts",
    "POST /v1/me/wallets",
    "GET /v1/me/payments",
    "GET /v1/wallets/{wallet_id}",
    "POST /v1/wallets/{wallet_id}/top-ups",
    "POST /v1/payments",
    "POST /v1/payments/{payment_id}/confirm",
    "POST /v1/payments/{payment_id}/cancel",
}
WEBHOOK = "POST /v1/acquirer/notifications"


class Target:
    """The app under test, the world in it, and the ids the fuzzer's ids are swapped for."""

    def __init__(self, app: FastAPI, world: World, payment_ids: list[str]) -> None:
        self.app = app
        self.known = {
            "supplier_id": [world.supplier_id],
            "account_id": [world.account_id],
            "wallet_id": [world.wallet_id],
            "payment_id": payment_ids,
            "operation_id": payment_ids,
            "replaces": [world.bill_id],
        }
        self.operator = bearer(Role.OPERATOR)
        self.resident = bearer(Role.RESIDENT, "payer-anna")


# Loaded when this module is imported, as schemathesis' pytest integration needs: the schema is
# fetched from the running app. Schemathesis starts the app's lifespan when it sends a request
# and ends it after each test item, so every operation runs on a freshly started app (the same
# ledger, the read models resuming from their SQLite file).
DATA_DIR = Path(tempfile.mkdtemp(prefix="kvit-schemathesis-"))
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)
LEDGER = Ledger(in_memory_env())
APP = build_app(DATA_DIR, LEDGER)
# The audit chain needs a database: on the in-memory ledger its routes can only answer 503.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(tag="audit")
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """The world the fuzzer works in, set up through the API."""
    schemathesis.python.asgi.shutdown_lifespans()  # one lifespan at a time
    with TestClient(APP, base_url=PUBLIC_URL) as client:
        operator, resident = bearer(Role.OPERATOR), bearer(Role.RESIDENT, "payer-anna")
        world = make_world(client, operator, resident, wallet_balance=10 * BILL_TOTAL)
        payment_ids = [
            pay(client, resident, world, amount=1000)["id"],
            pay(client, resident, world, amount=1000, confirm=True)["id"],
            pay(client, resident, world, method="card", amount=1000, confirm=True)["id"],
        ]
        top_up = client.post(
            f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": 5}, headers=keyed(resident)
        )
        assert top_up.status_code == 201
    yield Target(APP, world, payment_ids)
    schemathesis.python.asgi.shutdown_lifespans()
    LEDGER.close()


def picks(value: Any, odds: int = 4) -> bool:
    """A deterministic coin, biased (odds-1):1 towards True, from a generated value."""
    return int(hashlib.sha256(repr(value).encode()).hexdigest(), 16) % odds != 0


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def known_id(target: Target, name: str, value: Any) -> Any:
    choices = target.known.get(name)
    if not choices or not is_uuid(value) or not picks(value):
        return value
    return choices[int(uuid.UUID(value)) % len(choices)]


def valid_inn(seed: Any) -> str:
    """A legal entity's ИНН (10 digits, check digit right) derived from a generated value."""
    digits = [int(d) for d in str(int(hashlib.sha256(repr(seed).encode()).hexdigest(), 16))[:9]]
    check = sum(w * d for w, d in zip((2, 4, 10, 3, 5, 9, 4, 6, 8), digits, strict=True)) % 11
    return "".join(map(str, digits)) + str(check % 10)


def fresh_document_id(seed: Any) -> str:
    """A well-formed ИПД that has most likely not been issued yet."""
    number = int(hashlib.sha256(repr(seed).encode()).hexdigest(), 16)
    return f"{number % 100:02d}АА{number % 10**6:06d}-01-{number % 10**4:04d}"


def steer(case: Case, target: Target) -> None:
    """Swap most generated identifiers for valid ones, and most ids for things that exist, so
    that cases get past the identifier checks into the ledger. A quarter stays as generated."""
    for name, value in list((case.path_parameters or {}).items()):
        case.path_parameters[name] = known_id(target, name, value)
    body = case.body
    if not isinstance(body, dict):
        return
    for name, value in list(body.items()):
        body[name] = known_id(target, name, value)
    if not picks(repr(body), odds=4):
        return
    if case.path == "/v1/suppliers":
        body["inn"], body["kpp"] = valid_inn(body.get("inn")), KPP
        if isinstance(body.get("requisites"), dict):
            body["requisites"] = dict(REQUISITES)
    if case.path.endswith("/bills"):
        body["document_id"] = fresh_document_id(body)
        body["period"] = (
            f"2026-{int(hashlib.sha256(repr(body).encode()).hexdigest(), 16) % 12 + 1:02d}"
        )
    if "supplier_inn" in body:
        body["supplier_inn"], body["account_number"] = INN, ACCOUNT_NUMBER
    if case.path == "/v1/payments" and isinstance(body.get("document_id"), str):
        body["document_id"] = DOCUMENT_ID


def headers_for(case: Case, target: Target) -> Headers:
    label = f"{case.method.upper()} {case.path}"
    if not label.split(" ", 1)[1].startswith("/v1/") or label == WEBHOOK:
        return {}
    caller = target.resident if label in RESIDENT_OPERATIONS else target.operator
    generated = (case.headers or {}).get("Idempotency-Key")
    if case.method.upper() == "POST" and (generated is None or picks(generated)):
        return keyed(caller)  # a fresh key, so that most cases are not replays
    return dict(caller)


def raw_body(case: Case) -> bytes:
    """The bytes to sign: the webhook's signature covers the raw body."""
    if isinstance(case.body, NotSet):
        return b""
    if isinstance(case.body, bytes):
        return case.body
    return json.dumps(case.body).encode()


@schema.parametrize()
def test_api_honours_its_openapi_document(case: Case, target: Target) -> None:
    steer(case, target)
    extra: dict[str, Any] = {}
    headers = headers_for(case, target)
    if f"{case.method.upper()} {case.path}" == WEBHOOK:
        raw = raw_body(case)
        generated = (case.headers or {}).get(SIGNATURE_HEADER)
        if generated is None or picks(generated):
            headers = signed(raw, at=int(time.time()))
        extra["data"] = raw

    case.call_and_validate(headers=headers, checks=CHECKS, **extra)


CONTRACT = RESIDENT_OPERATIONS | {
    WEBHOOK,
    "POST /v1/suppliers",
    "GET /v1/suppliers",
    "GET /v1/suppliers/{supplier_id}",
    "POST /v1/accounts",
    "POST /v1/accounts/{account_id}/bills",
    "GET /v1/accounts/{account_id}",
    "GET /v1/accounts/{account_id}/payments",
    "POST /v1/payments/{payment_id}/refunds",
    "GET /v1/payments/{payment_id}",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
}


def test_fuzzer_sees_every_route_of_the_contract() -> None:
    served = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}

    assert sorted(CONTRACT - served) == []
