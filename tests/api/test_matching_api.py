"""Matching in the API: notice views, notices in the account's history, the supplier register
(JSON and CSV) and its problems."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from ledger.application import Ledger
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from tests.api.helpers import Headers, World, fund, pay, problem
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES

BANK = "044525225"
ORDER = f"1{BANK}{1:022d}"


def receive(
    ledger: Ledger, order_id: str = ORDER, amount: int = 100_000, **kw: object
) -> tuple[str, int]:
    fields: dict[str, object] = {"account_number": ACCOUNT_NUMBER, **kw}
    line = NoticeLine(
        line_no=1,
        order_id=order_id,
        order_date=date(2026, 3, 15),
        action="",
        amount=amount,
        commission=1_500,
        payer="Иванов И. И.",
        recipient_inn=INN,
        recipient_kpp=KPP,
        bik=REQUISITES["bik"],
        settlement_account=REQUISITES["settlement_account"],
        **fields,  # type: ignore[arg-type]
    )
    outcome = ledger.execute(ReceiveNotice(bank_bik=BANK, line=line))
    return str(outcome.result["notice_id"]), outcome.position


def today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).date().isoformat()


def test_a_notice_view_shows_its_match_and_then_its_annulment(
    client: TestClient, operator: Headers, auditor: Headers, world: World, memory_ledger: Ledger
) -> None:
    notice_id, position = receive(memory_ledger, document_id=DOCUMENT_ID, account_number=None)
    response = client.get(
        f"/v1/notices/{notice_id}", params={"min_position": position}, headers=auditor
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["kind"] == "bank_notice" and view["order_id"] == ORDER
    assert (view["status"], view["match_status"]) == ("succeeded", "matched")
    assert view["commission"] == 1_500 and view["bank_bik"] == BANK
    assert [(line["service"], line["amount"]) for line in view["lines"]] == [
        ("Холодное водоснабжение", 4474),  # 100,000 × 23,417 / 523,417, by largest remainder
        ("Отопление", 95526),
    ]
    annulled = memory_ledger.execute(
        AnnulNotice(bank_bik=BANK, order_id=ORDER, annul_date="2026-03-20")
    )
    view = client.get(
        f"/v1/notices/{notice_id}",
        params={"min_position": annulled.position},
        headers=operator,
    ).json()
    assert (view["status"], view["match_status"], view["lines"]) == ("annulled", "annulled", [])


def test_an_unknown_notice_is_a_404_problem_and_residents_may_not_look(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    problem(client.get(f"/v1/notices/{uuid4()}", headers=operator), 404, "not_found")
    problem(client.get(f"/v1/notices/{uuid4()}", headers=resident), 403, "forbidden")


def test_notices_appear_in_the_account_history_with_their_bank_and_status(
    client: TestClient, operator: Headers, resident: Headers, world: World, memory_ledger: Ledger
) -> None:
    paid = pay(client, resident, make_funded(client, resident, world), amount=200_000, confirm=True)
    _, position = receive(memory_ledger)
    second, _ = receive(memory_ledger, order_id=f"1{BANK}{2:022d}", amount=900_000)
    annulled = memory_ledger.execute(
        AnnulNotice(bank_bik=BANK, order_id=f"1{BANK}{2:022d}", annul_date="2026-03-20")
    )
    response = client.get(
        f"/v1/accounts/{world.account_id}/payments",
        params={"min_position": annulled.position, "limit": 2},
        headers=operator,
    )
    assert response.status_code == 200, response.text
    page = response.json()
    newest = page["items"][0]
    assert (newest["id"], newest["kind"], newest["method"]) == (
        second,
        "bank_notice",
        "bank_notice",
    )
    assert (newest["status"], newest["match_status"]) == ("annulled", "annulled")
    assert newest["payer_id"] is None and newest["order_id"] == f"1{BANK}{2:022d}"
    first_notice = page["items"][1]
    assert first_notice["match_status"] == "preliminarily_matched"
    assert (first_notice["bank_bik"], first_notice["commission"]) == (BANK, 1_500)
    older = client.get(
        f"/v1/accounts/{world.account_id}/payments",
        params={"cursor": page["next_cursor"]},
        headers=operator,
    ).json()
    assert [i["id"] for i in older["items"]] == [paid["id"]]
    assert older["items"][0]["kind"] == "payment"
    assert older["items"][0]["match_status"] == "preliminarily_matched"
    only_annulled = client.get(
        f"/v1/accounts/{world.account_id}/payments",
        params={"status": "annulled"},
        headers=operator,
    ).json()
    assert [i["id"] for i in only_annulled["items"]] == [second]
    # The resident's own history has no notices (they carry no payer), and keeps its fields.
    mine = client.get("/v1/me/payments", headers=resident).json()["items"]
    assert [i["id"] for i in mine] == [paid["id"]] and mine[0]["payer_id"] == "payer-anna"
    assert position < annulled.position


def make_funded(client: TestClient, resident: Headers, world: World) -> World:
    fund(client, resident, world.wallet_id, 1_000_000)
    return world


def test_the_supplier_register_lists_the_day_with_totals(
    client: TestClient, auditor: Headers, resident: Headers, world: World, memory_ledger: Ledger
) -> None:
    payment = pay(
        client,
        resident,
        make_funded(client, resident, world),
        amount=BILL_TOTAL,
        document_id=DOCUMENT_ID,
        confirm=True,
    )
    before = today()
    _, position = receive(memory_ledger, amount=10_000)
    # Midnight in Moscow may fall between the two: the export below asks for the later day.
    days = sorted({before, today()})
    bodies = []
    for day in days:
        response = client.get(
            f"/v1/suppliers/{world.supplier_id}/register",
            params={"date": day, "min_position": position},
            headers=auditor,
        )
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    body = {
        **bodies[-1],
        "entries": [e for b in bodies for e in b["entries"]],
        "totals": {k: sum(b["totals"][k] for b in bodies) for k in bodies[0]["totals"]},
        "by_channel": {c: t for b in bodies for c, t in b["by_channel"].items()},
    }
    assert body["time_zone"] == "Europe/Moscow"
    kinds = [(e["movement"], e["receipt"]["kind"], e["amount"]) for e in body["entries"]]
    assert kinds == [("received", "payment", BILL_TOTAL), ("received", "bank_notice", 10_000)]
    assert body["entries"][0]["receipt"]["id"] == payment["id"]
    assert body["entries"][0]["receipt"]["match_status"] == "matched"
    assert body["entries"][1]["receipt"]["match_status"] == "impossible"  # the bill was paid
    assert body["totals"] == {
        "count": 2,
        "received": BILL_TOTAL + 10_000,
        "refunded": 0,
        "annulled": 0,
        "net": BILL_TOTAL + 10_000,
        "commission": 1_500,
    }
    assert set(body["by_channel"]) == {"wallet", BANK}

    if len(days) > 1:
        return  # the CSV checks below need both movements on one day
    exported = client.get(
        f"/v1/suppliers/{world.supplier_id}/register",
        params={"date": days[0], "format": "csv"},
        headers=auditor,
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["date", "time_msk", "movement", "kind", "id"]
    assert rows[1][12] == "5234,17" and rows[2][13] == "15,00"
    assert rows[-1][:2] == [days[0], "all"] and rows[-1][6] == "5334,17"


def test_register_problems_bad_dates_and_unknown_suppliers(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    url = f"/v1/suppliers/{world.supplier_id}/register"
    problem(client.get(url, params={"date": "2026-02-30"}, headers=operator), 422, "invalid_date")
    problem(
        client.get(url, params={"date": "15.03.2026"}, headers=operator), 422, "validation_error"
    )
    problem(client.get(url, headers=operator), 422, "validation_error")
    problem(
        client.get(url, params={"date": "2026-03-15", "format": "xls"}, headers=operator),
        422,
        "validation_error",
    )
    unknown = f"/v1/suppliers/{UUID(int=7)}/register"
    problem(
        client.get(unknown, params={"date": "2026-03-15"}, headers=operator),
        404,
        "unknown_supplier",
    )
    problem(client.get(url, params={"date": "2026-03-15"}, headers=resident), 403, "forbidden")
    empty = client.get(url, params={"date": "2020-01-01"}, headers=operator).json()
    assert empty["entries"] == [] and empty["totals"]["net"] == 0
    assert empty["next_cursor"] is None
    day = {"date": "2026-03-15"}
    problem(client.get(url, params={**day, "cursor": "x"}, headers=operator), 422, "invalid_cursor")
    problem(client.get(url, params={**day, "limit": 0}, headers=operator), 422, "validation_error")
