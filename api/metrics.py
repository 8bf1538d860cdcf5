"""Prometheus metrics: requests by route and status, latency, log head, read-model lag, read
models stuck before an event they cannot apply, and followers of the log gone silent."""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.application import Ledger
from projections.read_models import ReadModels
from storage.log import head as log_head

REQUESTS = Counter("kvit_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("kvit_http_request_seconds", "HTTP request latency", ["method", "route"])
LOG_HEAD = Gauge("kvit_event_log_position", "Newest position in the event log")
READ_MODEL_POSITION = Gauge(
    "kvit_read_model_position", "Position each read model has applied", ["read_model"]
)
READ_MODEL_STUCK = Gauge(
    "kvit_read_model_stuck",
    "1 while a read model is stuck before an event it cannot apply (see /readyz)",
    ["read_model"],
)
FOLLOWER_UP = Gauge(
    "kvit_follower_up",
    "1 while a follower of the log (kvit project per read model, kvit audit follow) beats",
    ["follower"],
)
FOLLOWER_SILENT = Gauge(
    "kvit_follower_silent_seconds", "Seconds since a follower's last beat", ["follower"]
)


class CountRequests:
    """Pure ASGI middleware (BaseHTTPMiddleware costs a task and a stream per request).

    The router writes the matched route into the request's scope, which this layer shares, so
    the route is known once the app returns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            REQUESTS.labels(method, route, str(status)).inc()


def install(app: FastAPI) -> None:
    app.add_middleware(CountRequests)


def refresh_gauges(ledger: Ledger, read_models: ReadModels) -> None:
    LOG_HEAD.set(log_head(ledger))
    stuck = read_models.stuck()
    for name in read_models.names:
        READ_MODEL_POSITION.labels(name).set(read_models.position([name]))
        READ_MODEL_STUCK.labels(name).set(1 if name in stuck else 0)
    for name, (up, follower) in read_models.followers().items():
        FOLLOWER_UP.labels(name).set(1 if up else 0)
        FOLLOWER_SILENT.labels(name).set(follower.silent_seconds)
