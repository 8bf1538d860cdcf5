"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import LedgerDep, ReadDep
from api.metrics import refresh_gauges
from storage.log import head as log_head

router = APIRouter(tags=["ops"])

READY_LAG_EVENTS = 1000


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
def readyz(ledger: LedgerDep, read_models: ReadDep) -> JSONResponse:
    """Readiness: the event store answers, no read model is stuck before an event it cannot
    apply (`stuck`: where each stopped and on which event), no follower of the log has gone
    silent (`followers_down`: which, since its last beat), and the read models are caught up
    (within a margin)."""
    try:
        head = log_head(ledger)
        stuck = read_models.stuck()
        down = {n: f.public() for n, (up, f) in read_models.followers().items() if not up}
    except Exception as error:
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    positions = {name: read_models.position([name]) for name in read_models.names}
    lag = {name: head - position for name, position in positions.items()}
    body: dict[str, object] = {"position": head, "lag": lag}
    if stuck:
        body = {"status": "stuck", **body, "stuck": {n: s.public() for n, s in stuck.items()}}
        return JSONResponse(body, status_code=503)
    if down:
        return JSONResponse({"status": "follower_down", **body, "followers_down": down}, 503)
    ready = all(v <= READY_LAG_EVENTS for v in lag.values())
    body = {"status": "ready" if ready else "catching_up", **body}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(ledger: LedgerDep, read_models: ReadDep) -> Response:
    refresh_gauges(ledger, read_models)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
