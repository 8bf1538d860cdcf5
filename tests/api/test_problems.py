"""Errors are RFC 9457 problem details with a stable `code`; the OpenAPI document declares them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from api.problems import PROBLEM_JSON, TYPE_BASE
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.settings import Settings
from tests.api.helpers import (
    PUBLIC_URL,
    SUPPLIER,
    Headers,
    World,
    bearer,
    build_app,
    fund,
    keyed,
    pay,
    problem,
    wallet_balance,
)
from tests.fixtures import BILL_TOTAL, REQUISITES

Scenario = Callable[[TestClient, World, Headers, Headers], httpx.Response]


def insufficient_funds(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    body = {"account_id": w.account_id, "method": "wallet", "wallet_id": w.wallet_id}
    return c.post("/v1/payments", json={**body, "confirm": True}, headers=keyed(res))


def invalid_inn(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    body = {"supplier_inn": "6200098765", "account_number": "1"}
    return c.post("/v1/me/accounts", json=body, headers=keyed(res))


def invalid_account_key(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    requisites = {**REQUISITES, "settlement_account": "40702810138250123018"}
    body = {**SUPPLIER, "inn": "7707083893", "requisites": requisites}
    return c.post("/v1/suppliers", json=body, headers=keyed(op))


def idempotency_key_reused(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    body = {"account_id": w.account_id, "method": "card"}
    c.post("/v1/payments", json=body, headers=keyed(res, "k"))
    return c.post("/v1/payments", json={**body, "amount": 1}, headers=keyed(res, "k"))


def validation_error(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    body = {"account_id": w.account_id, "method": "card", "tip": 100}
    return c.post("/v1/payments", json=body, headers=keyed(res))


def unauthorized(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.get("/v1/me/payments")


def not_found(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.get("/v1/wallets/00000000-0000-0000-0000-000000000001", headers=res)


def forbidden(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.post("/v1/suppliers", json=SUPPLIER, headers=keyed(res))


def payment_state_conflict(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    payment = pay(c, res, w, method="card")
    c.post(f"/v1/payments/{payment['id']}/cancel", headers=keyed(res))
    return c.post(f"/v1/payments/{payment['id']}/confirm", headers=keyed(res))


def idempotency_key_missing(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.post("/v1/me/wallets", headers=res)


def payload_too_large(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    body = {**SUPPLIER, "name": "Я" * 40_000}  # 80 kB of UTF-8, over the 64 KiB limit
    return c.post("/v1/suppliers", json=body, headers=keyed(op))


def method_not_allowed(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.delete(f"/v1/payments/{w.account_id}", headers=op)


def unknown_route(c: TestClient, w: World, op: Headers, res: Headers) -> httpx.Response:
    return c.get("/v1/nowhere", headers=op)


SCENARIOS: list[tuple[int, str, Scenario]] = [
    (409, "insufficient_funds", insufficient_funds),
    (422, "invalid_inn", invalid_inn),
    (422, "invalid_account_key", invalid_account_key),
    (422, "idempotency_key_reused", idempotency_key_reused),
    (422, "validation_error", validation_error),
    (401, "unauthorized", unauthorized),
    (404, "not_found", not_found),
    (403, "forbidden", forbidden),
    (409, "payment_state_conflict", payment_state_conflict),
    (400, "idempotency_key_missing", idempotency_key_missing),
    (413, "payload_too_large", payload_too_large),
    (405, "method_not_allowed", method_not_allowed),
    (404, "not_found", unknown_route),
]


@pytest.mark.parametrize(
    ("status", "code", "scenario"), SCENARIOS, ids=[s[2].__name__ for s in SCENARIOS]
)
def test_error_is_a_problem_document_with_a_stable_code(
    client: TestClient,
    operator: Headers,
    resident: Headers,
    world: World,
    status: int,
    code: str,
    scenario: Scenario,
) -> None:
    response = scenario(client, world, operator, resident)

    body = problem(response, status, code)
    assert response.headers["content-type"] == PROBLEM_JSON
    assert body["type"] == TYPE_BASE + code
    assert body["instance"] == response.request.url.path
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(body)


def test_problem_carries_the_errors_data(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 100)

    body = problem(insufficient_funds(client, world, operator, resident), 409, "insufficient_funds")

    assert body["wallet_id"] == world.wallet_id
    assert (body["balance"], body["amount"]) == (100, BILL_TOTAL)
    assert wallet_balance(client, resident, world.wallet_id) == 100


def test_validation_problem_lists_what_is_wrong(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    body = problem(validation_error(client, world, operator, resident), 422, "validation_error")

    assert body["errors"] == [
        {"loc": ["body", "tip"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]


@pytest.mark.parametrize(
    "raw",
    [b'{"inn": ', b"[1, 2]", b'{"inn": "\xff\xfe"}', b""],
    ids=["truncated-json", "not-an-object", "not-utf-8", "empty"],
)
def test_malformed_body_is_a_validation_error(
    client: TestClient, operator: Headers, raw: bytes
) -> None:
    response = client.post(
        "/v1/suppliers",
        content=raw,
        headers={**keyed(operator), "content-type": "application/json"},
    )

    problem(response, 422, "validation_error")


def test_wrong_method_names_the_allowed_ones(client: TestClient, operator: Headers) -> None:
    response = client.delete("/v1/payments/00000000-0000-0000-0000-000000000001", headers=operator)

    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_too_large_body_creates_nothing(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    problem(payload_too_large(client, world, operator, resident), 413, "payload_too_large")

    assert client.get("/v1/suppliers?inn=7701234560", headers=operator).json()["items"] != []
    assert client.get("/v1/suppliers?inn=7707083893", headers=operator).json()["items"] == []


def test_body_size_limit_is_configurable(tmp_path: Path, memory_ledger: Ledger) -> None:
    app = build_app(tmp_path, memory_ledger, max_body_bytes=1000)
    operator = bearer(Role.OPERATOR)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        small = client.post("/v1/suppliers", json=SUPPLIER, headers=keyed(operator))
        large = client.post(
            "/v1/suppliers", json={**SUPPLIER, "name": "Я" * 500}, headers=keyed(operator)
        )

    assert small.status_code == 201
    body = problem(large, 413, "payload_too_large")
    assert body["limit"] == 1000


def test_chunked_body_over_the_limit_is_refused(tmp_path: Path, memory_ledger: Ledger) -> None:
    app = build_app(tmp_path, memory_ledger, max_body_bytes=1000)
    body = json.dumps({**SUPPLIER, "name": "Я" * 500}).encode()
    with TestClient(app, base_url=PUBLIC_URL) as client:
        response = client.post(
            "/v1/suppliers",
            content=iter([body]),  # no Content-Length: Transfer-Encoding: chunked
            headers={**keyed(bearer(Role.OPERATOR)), "content-type": "application/json"},
        )

    problem(response, 413, "payload_too_large")


def test_unexpected_error_is_a_500_that_leaks_nothing(
    fragile_client: TestClient, operator: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = fragile_client.app.state.services.started().ledger  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("connection to postgresql://kvit:hunter2@db failed")

    monkeypatch.setattr(ledger, "get_supplier", broken)

    response = fragile_client.get(
        "/v1/suppliers/00000000-0000-0000-0000-000000000001", headers=operator
    )

    problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "postgresql" not in response.text


# --- bad input is a 422 and a lost database a 503, never a 500 ----------------------------------


@pytest.mark.parametrize(
    "as_of",
    [
        "9999-12-31T23:59:59-14:00",  # overflows on the way to UTC
        "1000-01-01T00:00:00+14:00",  # year 999 in UTC: would sort as text
        "0999-12-31T00:00:00+00:00",
    ],
)
def test_as_of_out_of_range_is_a_422(
    client: TestClient, operator: Headers, world: World, as_of: str
) -> None:
    response = client.get(
        f"/v1/accounts/{world.account_id}", params={"as_of": as_of}, headers=operator
    )
    problem(response, 422, "invalid_as_of")
    ledger_account = client.get(
        "/v1/audit/ledger-accounts/acquirer:clearing", params={"as_of": as_of}, headers=operator
    )
    problem(ledger_account, 422, "invalid_as_of")


def test_as_of_outside_the_calendar_is_a_422(
    client: TestClient, operator: Headers, world: World
) -> None:
    response = client.get(
        f"/v1/accounts/{world.account_id}",
        params={"as_of": "0001-01-01T00:00:00+14:00"},
        headers=operator,
    )
    assert response.status_code == 422


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    try:
        with TestClient(build_app(tmp_path / "var", ledger), base_url=PUBLIC_URL) as client:
            yield client
    finally:
        ledger.close()


@pytest.mark.parametrize("path", ["/v1/audit/events", "/v1/audit/checkpoints"])
def test_a_position_beyond_64_bits_is_a_422_on_sqlite(
    sqlite_client: TestClient, auditor: Headers, path: str
) -> None:
    problem(
        sqlite_client.get(path, params={"after": 2**63}, headers=auditor), 422, "validation_error"
    )
    assert sqlite_client.get(path, params={"after": 2**63 - 2}, headers=auditor).status_code == 200


def test_a_transient_database_fault_is_a_503_with_retry_after(
    fragile_client: TestClient, resident: Headers, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault run (tests/integration/test_faults.py) cuts real connections; this pins the
    answer for each kind of fault the database drivers raise."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import OperationalError

    ledger = fragile_client.app.state.services.started().ledger  # type: ignore[attr-defined]
    for fault in (
        OperationalError("server closed the connection unexpectedly"),
        psycopg.OperationalError("terminating connection due to administrator command"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
    ):

        def fail(*_: object, fault: Exception = fault, **__: object) -> None:
            raise fault

        monkeypatch.setattr(ledger, "execute", fail)
        response = fragile_client.post(
            "/v1/payments",
            json={"account_id": world.account_id, "method": "wallet", "wallet_id": world.wallet_id},
            headers=keyed(resident),
        )
        problem(response, 503, "database_unavailable")
        assert int(response.headers["retry-after"]) >= 1


# --- the OpenAPI document is honest about problems -----------------------------------------------
@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/v1/"):
                yield method.upper(), path, operation


# POSTs that take no Idempotency-Key, and why.
NOT_KEYED = {
    "/v1/acquirer/notifications": "a signed webhook, settled by the operation it names",
    "/v1/acquirer/tbank/notifications": "T-Bank's signed notification, settled by its order",
    "/v1/qr:resolve": "a query with its payload in the body; it changes nothing",
    "/v1/notices": "a notice's natural key (posting bank, OrderID) is its idempotency key",
    "/v1/notices/annulments": "the notice's natural key, as above",
    "/v1/notices/batch": "every line's natural key, as above",
}


def test_every_route_declares_its_problem_responses(openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(openapi):
        declared = operation["responses"]
        for status in ("401", "413", "422"):
            assert PROBLEM_JSON in declared[status]["content"], (method, path, status)
        if method == "POST" and path not in NOT_KEYED:
            assert "400" in declared, (method, path)  # a missing Idempotency-Key


def test_every_keyed_route_documents_the_idempotency_key(openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(openapi):
        names = {p["name"] for p in operation.get("parameters", [])}
        if method == "POST" and path not in NOT_KEYED:
            assert "Idempotency-Key" in names, path
        else:
            assert "Idempotency-Key" not in names, path


def test_history_filters_document_the_statuses(openapi: dict[str, Any]) -> None:
    parameters = openapi["paths"]["/v1/me/payments"]["get"]["parameters"]
    status = next(p for p in parameters if p["name"] == "status")

    assert "succeeded" in str(status["schema"])
    assert "partially_refunded" in str(status["schema"])


# --- operations endpoints ------------------------------------------------------------------------
def test_health_readiness_and_metrics(client: TestClient, world: World) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["lag"].values()) == {0}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "kvit_http_requests_total" in metrics.text
    assert "kvit_event_log_position" in metrics.text


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    from prometheus_client import REGISTRY

    def count(route: str, status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return REGISTRY.get_sample_value("kvit_http_requests_total", labels) or 0.0

    before_ok = count("/healthz", "200")
    before_missing = count("unmatched", "404")
    client.get("/healthz")
    client.get("/no-such-page")

    assert count("/healthz", "200") == before_ok + 1
    assert count("unmatched", "404") == before_missing + 1


def test_audit_routes_on_a_log_kept_in_memory_are_503_audit_unavailable(
    client: TestClient, auditor: dict[str, str]
) -> None:
    # An in-memory log has no database beside it to keep the hash chain in.
    for path in ("/v1/audit/events", "/v1/audit/checkpoints", "/v1/audit/checkpoints/latest"):
        response = client.get(path, headers=auditor)
        assert response.status_code == 503, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "audit_unavailable"
