"""The default deployment's PostgreSQL connections stay within one budget (30), idle and under
a burst of requests: real `kvit serve --workers 2`, `kvit project`, `kvit mail` and
`kvit audit follow` processes, counted in pg_stat_activity by application_name."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.deployment import ConnectionSampler, Deployment, connections, running
from bench.http_world import Resident, seed
from ledger.bootstrap import build_ledger
from ledger.engine import connections as budget
from ledger.settings import Settings
from tests.integration.test_notices import Inbox
from tests.processes import free_port

pytestmark = pytest.mark.postgres
BUDGET = 30
PROCESSES = {"serve", "project", "mail", "audit"}


def test_the_budget_splits_into_pools_that_add_up_to_at_most_the_budget() -> None:
    for total, workers in ((30, 1), (30, 2), (30, 3), (60, 4)):
        pools = budget.split(total, workers)
        others = (budget.Role.PROJECT, budget.Role.AUDIT, budget.Role.MAIL, budget.Role.WRITER)
        deployment = workers * pools[budget.Role.SERVE].total + sum(
            pools[role].total for role in others
        )
        assert deployment <= total
    with pytest.raises(budget.BudgetTooSmallError, match="too small for 8 API workers"):
        budget.split(30, 8)


@pytest.fixture
def deployment(pg_settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    from aiosmtpd.controller import Controller

    smtp = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        url, schema = str(pg_settings.database_url), str(pg_settings.database_schema)
        with running(url, schema, tmp_path, mail_url=f"smtp://127.0.0.1:{smtp.port}") as dep:
            yield dep
    finally:
        smtp.stop()


def burst(base: str, residents: list[Resident], requests_each: int, threads: int) -> list[str]:
    """Each answer as its status, or status and problem code when it is not a 2xx."""
    answers: list[str] = []

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for i in range(requests_each):
                r = residents[(n + i) % len(residents)]
                auth = {"Authorization": f"Bearer {r.token}"}
                if i % 3 == 0:
                    response = http.post(
                        "/v1/payments",
                        json={
                            "account_id": str(r.account_id),
                            "method": "wallet",
                            "wallet_id": str(r.wallet_id),
                            "amount": 100,
                            "confirm": True,
                        },
                        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    )
                else:
                    path = "/v1/me/accounts" if i % 3 == 1 else "/v1/me/payments"
                    response = http.get(path, headers=auth)
                code = "" if response.is_success else f" {response.json().get('code')}"
                answers.append(f"{response.status_code}{code}")

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def test_the_default_deployment_holds_at_most_30_connections_idle_and_under_a_burst(
    deployment: Deployment, pg_settings: Settings
) -> None:
    url, schema = str(pg_settings.database_url), str(pg_settings.database_schema)
    # /readyz answers before every other process has connected (on a loaded machine, after).
    deadline = time.monotonic() + 60
    while True:
        idle = connections(url, schema)
        if {name.rsplit("-", 1)[1] for name in idle} == PROCESSES or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {name.rsplit("-", 1)[1] for name in idle} == PROCESSES, idle
    assert sum(idle.values()) <= BUDGET, idle

    ledger = build_ledger(pg_settings.model_copy(update={"database_pool_size": 2}))
    try:
        residents = seed(ledger, deployment.env["KVIT_SECRET_KEY"], 12)
    finally:
        ledger.close()
    sampler = ConnectionSampler(url, schema, every=0.05)
    sampler.start()
    try:
        answers = burst(deployment.base_url, residents, requests_each=30, threads=32)
        verify = deployment.kvit("audit", "verify")  # a one-off command beside it, under load
    finally:
        sampler.stop()

    # 32 clients on 12 wallets: a payment may lose its bounded retries to the others (a named
    # 409 the client can retry); nothing else is acceptable.
    assert set(answers) <= {"200", "201", "409 concurrent_update"}, sorted(set(answers))
    assert verify.returncode == 0, verify.stderr
    assert 0 < sampler.peak <= BUDGET, sampler.peak_by_process
