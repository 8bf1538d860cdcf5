"""Payment history: /v1/me/payments and /v1/accounts/{id}/payments, newest first, paged."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from projections.errors import ReadModelTimeoutError
from tests.api.helpers import Headers, World, fund, issue_bill, keyed, my_payments, pay, problem


@pytest.fixture
def three_payments(client: TestClient, resident: Headers, world: World) -> list[str]:
    """Oldest first: a succeeded wallet payment, a cancelled one, a card one waiting."""
    fund(client, resident, world.wallet_id, 1000)
    succeeded = pay(client, resident, world, amount=1000, confirm=True)["id"]
    cancelled = pay(client, resident, world, amount=200)["id"]
    client.post(f"/v1/payments/{cancelled}/cancel", headers=keyed(resident))
    waiting = pay(client, resident, world, method="card", amount=300)["id"]
    return [succeeded, cancelled, waiting]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_history_is_newest_first(
    client: TestClient, resident: Headers, three_payments: list[str]
) -> None:
    items = my_payments(client, resident)

    assert ids(items) == three_payments[::-1]
    assert [i["status"] for i in items] == ["requires_confirmation", "canceled", "succeeded"]
    assert [i["amount"] for i in items] == [300, 200, 1000]


def test_pages_follow_the_cursor_to_the_end(
    client: TestClient, resident: Headers, three_payments: list[str]
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/me/payments", params=params, headers=resident).json()
        seen += ids(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == three_payments[::-1]


def test_status_filter_takes_any_of_several(
    client: TestClient, resident: Headers, three_payments: list[str]
) -> None:
    items = my_payments(client, resident, status=["succeeded", "canceled"])

    assert ids(items) == three_payments[1::-1]


def test_period_filter(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    issue_bill(
        client, operator, world.account_id, document_id="70АА000560-01-6104", period="2026-04"
    )
    march = pay(client, resident, world, method="card", document_id="70АА000560-01-6103")
    pay(client, resident, world, method="card", document_id="70АА000560-01-6104")
    pay(client, resident, world, method="card", amount=100)  # no bill, no period

    items = my_payments(client, resident, period="2026-03")

    assert ids(items) == [march["id"]]
    assert items[0]["period"] == "2026-03"


def test_creation_time_range(
    client: TestClient, resident: Headers, three_payments: list[str]
) -> None:
    everything = my_payments(client, resident, created_from="2000-01-01T00:00:00+03:00")
    nothing = my_payments(client, resident, created_before="2000-01-01T00:00:00Z")

    assert ids(everything) == three_payments[::-1]
    assert nothing == []


def test_history_holds_only_the_residents_own_payments(
    client: TestClient, resident: Headers, other_resident: Headers, three_payments: list[str]
) -> None:
    assert my_payments(client, other_resident) == []


def test_operator_and_auditor_read_an_accounts_history(
    client: TestClient,
    operator: Headers,
    auditor: Headers,
    world: World,
    three_payments: list[str],
) -> None:
    for headers in (operator, auditor):
        response = client.get(f"/v1/accounts/{world.account_id}/payments", headers=headers)
        assert response.status_code == 200
        assert ids(response.json()["items"]) == three_payments[::-1]
        assert response.json()["next_cursor"] is None


def test_accounts_history_of_an_unknown_account_is_404(
    client: TestClient, operator: Headers
) -> None:
    response = client.get(
        "/v1/accounts/00000000-0000-0000-0000-000000000001/payments", headers=operator
    )

    problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "paid"}, "validation_error"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 201}, "validation_error"),
        ({"period": "2026-3"}, "validation_error"),
        ({"created_from": "2026-01-01T00:00:00"}, "validation_error"),  # no time zone
        ({"created_from": "0001-01-01T00:00:00+01:00"}, "validation_error"),  # before year 1
        ({"created_before": "9999-12-31T23:00:00-05:00"}, "validation_error"),  # after 9999
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"[1, 2]").decode()}, "invalid_cursor"),
    ],
    ids=[
        "unknown-status",
        "limit-zero",
        "limit-too-large",
        "period-shape",
        "naive-time",
        "time-underflow",
        "time-overflow",
        "garbage-cursor",
        "cursor-not-an-object",
    ],
)
def test_bad_query_is_a_422_problem(
    client: TestClient, resident: Headers, params: dict[str, Any], code: str
) -> None:
    response = client.get("/v1/me/payments", params=params, headers=resident)

    problem(response, 422, code)


def test_cursor_from_other_filters_is_refused(
    client: TestClient, resident: Headers, three_payments: list[str]
) -> None:
    page = client.get("/v1/me/payments", params={"limit": 1}, headers=resident).json()

    response = client.get(
        "/v1/me/payments",
        params={"limit": 1, "cursor": page["next_cursor"], "status": "succeeded"},
        headers=resident,
    )

    problem(response, 422, "invalid_cursor")


def test_another_residents_cursor_is_refused(
    client: TestClient, resident: Headers, other_resident: Headers, three_payments: list[str]
) -> None:
    cursor = client.get("/v1/me/payments", params={"limit": 1}, headers=resident).json()[
        "next_cursor"
    ]

    response = client.get(
        "/v1/me/payments", params={"limit": 1, "cursor": cursor}, headers=other_resident
    )

    problem(response, 422, "invalid_cursor")


def test_position_beyond_the_log_is_refused_at_once(
    client: TestClient, resident: Headers, world: World
) -> None:
    response = client.get("/v1/me/payments", params={"min_position": 10**9}, headers=resident)

    body = problem(response, 422, "position_not_in_log")
    assert body["min_position"] == 10**9


def test_write_position_is_waited_for_and_a_read_model_that_lags_is_a_503(
    client: TestClient, resident: Headers, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    def stuck(position: int, *args: Any) -> None:
        if position > 0:
            raise ReadModelTimeoutError("read models are stuck", position=position)

    async def stuck_on_the_loop(position: int, *args: Any) -> None:
        stuck(position)

    read_models = client.app.state.services.started().read_models  # type: ignore[attr-defined]
    monkeypatch.setattr(read_models.watcher, "wait_for", stuck)
    monkeypatch.setattr(read_models.watcher, "wait_for_async", stuck_on_the_loop)  # writes

    write = client.post(
        "/v1/payments",
        json={"account_id": world.account_id, "method": "card"},
        headers=keyed(resident),
    )
    read = client.get(
        "/v1/me/payments",
        params={"min_position": write.headers["kvit-position"]},
        headers=resident,
    )

    assert write.status_code == 201  # committed: success, with a note that reads lag
    assert write.headers["kvit-read-models"] == "lagging"
    problem(read, 503, "read_model_lagging")


def test_forged_cursor_payload(client: TestClient, resident: Headers) -> None:
    """A cursor is opaque; a decodable one with a foreign fingerprint is still refused."""
    forged = base64.urlsafe_b64encode(json.dumps({"v": 1, "p": 5, "f": "0" * 16}).encode())

    response = client.get(
        "/v1/me/payments", params={"cursor": forged.decode().rstrip("=")}, headers=resident
    )

    problem(response, 422, "invalid_cursor")


def test_forged_cursor_with_a_huge_position_is_refused(
    fragile_client: TestClient, resident: Headers
) -> None:
    filters = {"payer_id": "payer-anna", "statuses": [], "period": None, "from": None}
    filters["before"] = None
    fingerprint = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
    payload = json.dumps({"v": 1, "p": 10**30, "f": fingerprint}).encode()
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")

    response = fragile_client.get("/v1/me/payments", params={"cursor": cursor}, headers=resident)

    problem(response, 422, "invalid_cursor")
