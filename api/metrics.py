"""Prometheus metrics: requests by route and status, latency, log head and read-model lag."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("kvit_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("kvit_http_request_seconds", "HTTP request latency", ["method", "route"])
LOG_HEAD = Gauge("kvit_event_log_position", "Newest position in the event log")
READ_MODEL_POSITION = Gauge(
    "kvit_read_model_position", "Position each read model has applied", ["read_model"]
)


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


def refresh_gauges(app: FastAPI) -> None:
    LOG_HEAD.set(app.state.ledger.recorder.max_notification_id() or 0)
    read_models = app.state.read_models
    for name in read_models.names:
        READ_MODEL_POSITION.labels(name).set(read_models.position([name]))
