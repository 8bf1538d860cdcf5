"""A supplier's big day: more receipts than PostgreSQL takes bind parameters (65,535) and more
movements than the register's old cap (100,000). The register must give every line, as JSON
pages (a cursor) and as one streamed CSV, with totals that cover the whole day.

The day is written straight into the matching model's tables (the register reads only them):
170,000 rows through the ledger would take minutes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from ledger.bootstrap import build_ledger
from ledger.registry.commands import RegisterSupplier
from projections.schema import migrate as migrate_read_models
from projections.tables import MATCH_MOVE, MATCH_RECEIPT
from storage.sql import Store
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.conftest import TEST_DATABASE_URL
from tests.fixtures import INN, KPP, REQUISITES

DAY = "2026-03-15"
RECEIPTS = 70_000  # > 65,535: one bind parameter each would not fit in one statement
REVERSED = 30_001  # + RECEIPTS movements > 100,000
CHANNELS = ("044525225", "044525974", "card")
FIRST_POSITION = 1_000_000


@dataclass(frozen=True)
class Day:
    client: TestClient
    supplier_id: str
    expected: dict[str, dict[str, int]]
    """Totals per channel and `all`, as inserted."""


def rubles(kopecks: int) -> str:
    return f"{kopecks // 100},{kopecks % 100:02d}"


def receipt_row(supplier_id: str, n: int) -> dict[str, Any]:
    channel = CHANNELS[n % len(CHANNELS)]
    card = channel == "card"
    return {
        "receipt_id": f"00000000-0000-4000-8000-{n:012d}",
        "kind": "payment" if card else "bank_notice",
        "account_id": "00000000-0000-4000-9000-000000000001",
        "supplier_id": supplier_id,
        "payer_id": None,
        "account_number": "0667000001",
        "method": "card" if card else "bank_notice",
        "bank_bik": None if card else channel,
        "order_id": None if card else f"{n:032d}",
        "order_date": None if card else DAY,
        "payer_name": "Иванов И. И.",
        "purpose": None,
        "refs": "{}",
        "commission": 0 if card else amount(n) // 100,
        "bill_id": None,
        "document_id": None,
        "period": None,
        "named_period": None,
        "amount": amount(n),
        "reversed": reversal(n) if n < REVERSED else 0,
        "received": amount(n),
        "status": "succeeded",
        "match_status": "impossible",
        "matched": 0,
        "advance": amount(n),
        "lines": "[]",
        "created_at": f"{DAY}T06:00:00.000000Z",
        "received_at": f"{DAY}T06:00:00.000000Z",
        "updated_at": f"{DAY}T07:00:00.000000Z",
        "created_position": FIRST_POSITION + n,
        "received_position": FIRST_POSITION + n,
        "position": FIRST_POSITION + n,
    }


def amount(n: int) -> int:
    return 10_000 + n


def reversal(n: int) -> int:
    return 1_000 + n % 500


def fill_day(store: Store, supplier_id: str) -> dict[str, dict[str, int]]:
    """The day's receipts and movements, written in one transaction; the totals they make."""
    receipts, moves = [], []
    expected: dict[str, dict[str, int]] = {}

    def move(n: int, position: int, kind: str, value: int, commission: int) -> None:
        row = receipts[n]
        channel = row["bank_bik"] or row["method"]
        at = f"{DAY}T07:00:00.000000Z"
        where = (row["receipt_id"], supplier_id, row["account_id"], DAY)
        moves.append((position, *where, kind, channel, value, commission, at))
        for name in (channel, "all"):
            totals = expected.setdefault(
                name,
                {"count": 0, "received": 0, "refunded": 0, "annulled": 0, "commission": 0},
            )
            totals["count"] += 1
            totals[kind] += value
            totals["commission"] += commission

    receipts = [receipt_row(supplier_id, n) for n in range(RECEIPTS)]
    for n in range(RECEIPTS):
        move(n, FIRST_POSITION + 2 * n, "received", amount(n), receipts[n]["commission"])
    for n in range(REVERSED):
        kind = "refunded" if receipts[n]["method"] == "card" else "annulled"
        move(n, FIRST_POSITION + 2 * n + 1, kind, reversal(n), 0)
    with store.writing() as tx:
        tx.write(
            "rm_",
            MATCH_RECEIPT,
            [tuple(r[c] for c in MATCH_RECEIPT.column_names) for r in receipts],
        )
        tx.write("rm_", MATCH_MOVE, moves)
    for totals in expected.values():
        totals["net"] = totals["received"] - totals["refunded"] - totals["annulled"]
    return expected


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def big_day(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Day]:
    if request.param == "postgres":
        schema = request.getfixturevalue("pg_settings").database_schema
        settings = api_settings(
            tmp_path / "var", database_url=TEST_DATABASE_URL, database_schema=schema
        )
        migrate_read_models(settings)
        ledger = build_ledger(settings)
    else:
        settings = api_settings(tmp_path / "var")
        ledger = request.getfixturevalue("memory_ledger")
    app = create_app(settings, ledger=ledger)
    try:
        with TestClient(app, base_url=PUBLIC_URL) as client:
            supplier = ledger.execute(
                RegisterSupplier.parse(
                    inn=INN, kpp=KPP, name="УК", requisites=REQUISITES, idempotency_key="s"
                )
            )
            supplier_id = supplier.result["supplier_id"]
            store = app.state.services.started().read_models.store
            yield Day(client, supplier_id, fill_day(store, supplier_id))
    finally:
        if request.param == "postgres":
            ledger.close()


def test_a_big_day_in_json_pages_has_every_line_and_whole_day_totals(big_day: Day) -> None:
    url = f"/v1/suppliers/{big_day.supplier_id}/register"
    auditor = bearer(Role.AUDITOR)
    positions: list[int] = []
    params: dict[str, Any] = {"date": DAY, "limit": 5_000}
    while True:
        response = big_day.client.get(url, params=params, headers=auditor)
        assert response.status_code == 200, response.text[:300]
        page = response.json()
        assert page["totals"] == big_day.expected["all"]  # every page: the whole day
        assert page["by_channel"] == {c: big_day.expected[c] for c in CHANNELS}
        positions += [entry["position"] for entry in page["entries"]]
        if page.get("next_cursor") is None:
            break
        params["cursor"] = page["next_cursor"]

    assert len(positions) == RECEIPTS + REVERSED
    assert positions == sorted(set(positions)), "in log order, each line once"


def test_a_big_day_as_csv_has_every_line_and_whole_day_totals(big_day: Day) -> None:
    response = big_day.client.get(
        f"/v1/suppliers/{big_day.supplier_id}/register",
        params={"date": DAY, "format": "csv"},
        headers=bearer(Role.OPERATOR),
    )
    assert response.status_code == 200, response.text[:300]

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    blank = rows.index([])
    lines, totals = rows[1:blank], rows[blank + 2 :]
    assert len(lines) == RECEIPTS + REVERSED
    kopecks = sum(int(line[12].replace(",", "")) for line in lines)  # reversals negative
    expected = big_day.expected
    assert kopecks == expected["all"]["net"]
    assert {row[1]: row[2:] for row in totals} == {
        name: [
            str(t["count"]),
            *(rubles(t[k]) for k in ("received", "refunded", "annulled", "net", "commission")),
        ]
        for name, t in expected.items()
    }
