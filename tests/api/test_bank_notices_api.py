"""POST /v1/notices, /v1/notices/annulments and /v1/notices/batch (registers)."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from ledger.notices.line import COLUMNS
from tests.api.helpers import Headers, World, account, problem
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES

ORDER_ID = "10445252250000001503202600000001"
HEADER = ";".join(COLUMNS)


def order(n: int) -> str:
    return f"1044525225{n:022d}"


def body(**changes: object) -> dict[str, object]:
    notice: dict[str, object] = {
        "order_id": ORDER_ID,
        "order_date": "2026-03-15",
        "amount": 100000,
        "commission": 1500,
        "recipient_inn": INN,
        "recipient_kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
        "account_number": ACCOUNT_NUMBER,
    }
    notice.update(changes)
    return notice


def csv_line(n: int, amount: str = "1000,00", **changes: str) -> str:
    values = {name: "" for name in COLUMNS} | {
        "order_id": order(n),
        "order_date": "15.03.2026",
        "amount": amount,
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    values.update(changes)
    return ";".join(values[name] for name in COLUMNS)


def test_a_notice_is_accepted_once_and_shows_in_the_balance(
    client: TestClient, world: World, operator: Headers
) -> None:
    first = client.post("/v1/notices", json=body(), headers=operator)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "accepted"
    assert int(first.headers["Kvit-Position"]) > 0
    again = client.post("/v1/notices", json=body(), headers=operator)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 100000


def test_other_content_under_the_same_order_id_is_a_409(
    client: TestClient, world: World, operator: Headers
) -> None:
    client.post("/v1/notices", json=body(), headers=operator)
    other = body(amount=5, commission=0)
    problem(client.post("/v1/notices", json=other, headers=operator), 409, "notice_conflict")


def test_bad_references_and_requisites_are_clear_problems(
    client: TestClient, world: World, operator: Headers
) -> None:
    problem(client.post("/v1/notices", json=body(account_number="nope"), headers=operator), 404,
            "unknown_account")  # fmt: skip
    wrong = body(settlement_account="40702810838250123016")
    problem(client.post("/v1/notices", json=wrong, headers=operator), 422, "requisites_mismatch")
    problem(client.post("/v1/notices", json=body(recipient_inn="7701234561"), headers=operator),
            422, "invalid_inn")  # fmt: skip
    no_bank = body(order_id="X" * 32)
    problem(client.post("/v1/notices", json=no_bank, headers=operator), 422, "unknown_bank")


def test_only_operators_post_notices(client: TestClient, world: World, resident: Headers) -> None:
    problem(client.post("/v1/notices", json=body(), headers=resident), 403, "forbidden")


def test_an_annulment_reverses_the_notice(
    client: TestClient, world: World, operator: Headers
) -> None:
    client.post("/v1/notices", json=body(), headers=operator)
    annul = {"order_id": ORDER_ID, "annul_date": "20.03.2026"}
    first = client.post("/v1/notices/annulments", json=annul, headers=operator)
    assert first.json()["outcome"] == "annulled", first.text
    again = client.post("/v1/notices/annulments", json=annul, headers=operator)
    assert again.json()["outcome"] == "duplicate"
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL
    other_day = {"order_id": ORDER_ID, "annul_date": "2026-03-21"}
    problem(client.post("/v1/notices/annulments", json=other_day, headers=operator), 409,
            "notice_state_conflict")  # fmt: skip


def test_a_register_keeps_each_lines_outcome_and_a_resent_one_changes_nothing(
    client: TestClient, world: World, operator: Headers
) -> None:
    lines = [
        csv_line(1),
        csv_line(2, amount="2000,50", document_id=DOCUMENT_ID, account_number=""),
        csv_line(3, amount="12,3,4"),  # malformed amount
        csv_line(4, account_number="9999"),  # unknown account
        csv_line(1),  # the same notice twice in one file
        csv_line(1, amount="1,00"),  # same OrderID, other content
        csv_line(2, order_date="20.03.2026", action="annul"),
    ]
    register = "\ufeff" + "\r\n".join([HEADER, *lines]) + "\r\n"
    response = client.post(
        "/v1/notices/batch",
        content=register.encode("utf-8"),
        headers=operator | {"content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    counts = {
        k: summary[k] for k in ("accepted", "duplicates", "conflicts", "rejected", "annulled")
    }
    assert counts == {"accepted": 2, "duplicates": 1, "conflicts": 1, "rejected": 2, "annulled": 1}
    assert sorted((r["line"], r["code"]) for r in summary["rejects"]) == [
        (4, "invalid_amount"),
        (5, "unknown_account"),
        (7, "notice_conflict"),
    ]
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 100000
    resent = client.post(
        "/v1/notices/batch",
        content="\n".join([HEADER, lines[0], lines[1], ""]).encode(),
        headers=operator | {"content-type": "text/csv"},
    ).json()
    assert (resent["accepted"], resent["duplicates"]) == (0, 2)


def test_a_json_lines_register_is_read_the_same(
    client: TestClient, world: World, operator: Headers
) -> None:
    records = [body(order_id=order(n), amount=f"{n},00", commission="0,15") for n in (1, 2, 3)]
    payload = b"".join(orjson.dumps(r) + b"\n" for r in records)
    response = client.post(
        "/v1/notices/batch",
        content=payload,
        headers=operator | {"content-type": "application/jsonl"},
    )
    assert response.json()["accepted"] == 3, response.text
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 600


def test_a_register_above_its_limit_is_a_413(
    client: TestClient, world: World, operator: Headers
) -> None:
    huge = b"x" * (64 * 1024 * 1024 + 1)
    problem(
        client.post("/v1/notices/batch", content=huge, headers=operator), 413, "payload_too_large"
    )
