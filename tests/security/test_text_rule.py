"""Issue 16, item 10 (the write side): free text with a NUL or a control character, or longer
than where it is kept and printed, is refused with one stable problem (`invalid_text`) at every
door — each HTTP write and the register import of the command line — and changes nothing.

Before, `payer: "Ivanov\\u0000"` was accepted, and every read model on PostgreSQL then stopped
on it for good (PostgreSQL text cannot hold NUL)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.domain.text import ADDRESS, PURPOSE, SUPPLIER_NAME
from ledger.errors import InvalidTextError
from ledger.notices.line import parse_notice
from ledger.payments.commands import OpenWallet
from ledger.registry.commands import ChangeSupplierRequisites
from ledger.settings import Settings
from tests.api import conftest as api_fixtures
from tests.api.helpers import (
    ADDRESS as GOOD_ADDRESS,
)
from tests.api.helpers import (
    SUPPLIER,
    Headers,
    World,
    account,
    bearer,
    bill_body,
    keyed,
    problem,
)
from tests.fixtures import ACCOUNT_NUMBER, INN, KPP, REQUISITES, setup_world

# The API tier's fixtures: an app on an in-memory ledger, its client, an operator, a world.
app, client, operator, world = (
    api_fixtures.app,
    api_fixtures.client,
    api_fixtures.operator,
    api_fixtures.world,
)
resident = api_fixtures.resident  # `world` links the resident

KVIT = str(Path(sys.executable).with_name("kvit"))
ORDER_ID = "10445252250000001503202600000001"
BAD_TEXT = {
    "nul": "Иванов\u0000",
    "escape": "Иванов\u001b[31m",
    "delete": "Иванов\u007f",
    "c1 control": "Иванов\u0085И",
    "bidi override": "Иванов\u202eвонавИ",
    "zero width": "Ива\u200bнов",
}


def notice_body(**changes: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "order_date": "2026-03-15",
        "amount": 100000,
        "payer": "Иванов И.И.",
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
        "purpose": "Оплата ЖКУ за 03.2026",
        **changes,
    }


def refused(response: Any, field: str, reason: str = "control_character") -> dict[str, Any]:
    body = problem(response, 422, "invalid_text")
    assert (body["field"], body["reason"]) == (field, reason), body
    return body


# --- HTTP: every write that takes free text ------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
@pytest.mark.parametrize("field", ["payer", "purpose"])
def test_a_notice_with_a_control_character_is_refused_and_posts_nothing(
    client: TestClient, world: World, operator: Headers, kind: str, field: str
) -> None:
    before = account(client, operator, world.account_id)["balance"]
    # Sent as JSON text with \u escapes, as a client would send a NUL.
    body = json.dumps(notice_body(**{field: BAD_TEXT[kind]}))
    json_headers = {**operator, "content-type": "application/json"}
    refused(client.post("/v1/notices", content=body, headers=json_headers), field)
    assert account(client, operator, world.account_id)["balance"] == before
    # The same notice with clean text is accepted: nothing of the refused one was kept.
    ok = client.post("/v1/notices", json=notice_body(), headers=operator)
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    "body, field",
    [
        ({**SUPPLIER, "name": "ООО\u0000 УК"}, "name"),
        ({**SUPPLIER, "requisites": {**REQUISITES, "bank_name": "ПАО\u0000"}}, "bank_name"),
        ({**SUPPLIER, "name": "ООО \u202eКУ"}, "name"),
    ],
)
def test_a_supplier_with_a_control_character_is_refused(
    client: TestClient, operator: Headers, body: dict[str, Any], field: str
) -> None:
    refused(client.post("/v1/suppliers", json=body, headers=keyed(operator)), field)
    found = client.get("/v1/suppliers", params={"inn": body["inn"]}, headers=operator)
    assert found.json()["items"] == []


def test_changed_requisites_with_a_nul_are_refused(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger)
    with pytest.raises(InvalidTextError) as refusal:
        memory_ledger.execute(
            ChangeSupplierRequisites.parse(
                supplier_id=world.supplier_id,
                requisites={**REQUISITES, "bank_name": "ПАО\u0000 СБЕРБАНК"},
                idempotency_key="change",
            )
        )
    assert refusal.value.data["field"] == "bank_name"
    assert memory_ledger.get_supplier(world.supplier_id).requisites == REQUISITES


def test_an_account_address_with_a_nul_is_refused(
    client: TestClient, world: World, operator: Headers
) -> None:
    body = {"supplier_id": world.supplier_id, "account_number": "2", "address": "кв.\u00001"}
    refused(client.post("/v1/accounts", json=body, headers=keyed(operator)), "address")


def test_a_bill_line_with_a_nul_is_refused(
    client: TestClient, world: World, operator: Headers
) -> None:
    lines = [{"service": "Отопление\u0000", "amount": 100}]
    body = bill_body("70АА000560-01-6104", lines=lines)
    response = client.post(
        f"/v1/accounts/{world.account_id}/bills", json=body, headers=keyed(operator)
    )
    refused(response, "service")


def test_an_operator_cannot_confirm_a_payer_id_with_a_nul(
    client: TestClient, world: World, operator: Headers
) -> None:
    response = client.post(
        f"/v1/accounts/{world.account_id}/payers",
        json={"payer_id": "anna\u0000"},
        headers=keyed(operator),
    )
    refused(response, "payer_id")


def test_a_token_whose_payer_id_holds_a_nul_is_refused_at_the_door(
    client: TestClient, memory_ledger: Ledger
) -> None:
    resident = bearer(Role.RESIDENT, "anna\u0000")
    problem(client.post("/v1/me/wallets", headers=keyed(resident)), 401, "unauthorized")
    problem(client.get("/v1/me/payments", headers=resident), 401, "unauthorized")
    # Below the HTTP edge, every resident command refuses it too.
    with pytest.raises(InvalidTextError):
        memory_ledger.execute(OpenWallet(payer_id="anna\u0000", idempotency_key="w"))


# --- lengths: what the read side and the QR code can hold ----------------------------------------
def test_text_longer_than_its_field_holds_is_refused_not_cut(
    client: TestClient, world: World, operator: Headers
) -> None:
    long_name = "А" * (SUPPLIER_NAME.max_length + 1)
    body = {**SUPPLIER, "inn": "7707083893", "name": long_name}
    body_ = refused(
        client.post("/v1/suppliers", json=body, headers=keyed(operator)), "name", "too_long"
    )
    assert body_["max_length"] == SUPPLIER_NAME.max_length
    # A register has no schema in front of it: the notice's own parse holds the limit.
    line = {k: str(v) for k, v in notice_body(purpose="П" * (PURPOSE.max_length + 1)).items()}
    with pytest.raises(InvalidTextError) as refusal:
        parse_notice(line)
    assert refusal.value.data == {
        "field": "purpose",
        "reason": "too_long",
        "max_length": PURPOSE.max_length,
    }


def test_whitespace_in_a_name_is_folded_to_single_spaces_not_refused(
    client: TestClient, world: World, operator: Headers
) -> None:
    body = {
        "supplier_id": world.supplier_id,
        "account_number": "3",
        "address": " кв.\t1\r\n дом\u00a02 ",
    }
    response = client.post("/v1/accounts", json=body, headers=keyed(operator))
    assert response.status_code == 201, response.text
    assert account(client, operator, response.json()["id"])["address"] == "кв. 1 дом 2"
    assert len(GOOD_ADDRESS) <= ADDRESS.max_length


# --- the command line: `kvit notices import` rejects the line, imports the rest ------------------
def _register(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def _row(order_no: int, payer: str) -> dict[str, str]:
    return {
        "order_id": ORDER_ID[:-2] + f"{order_no:02d}",
        "order_date": "15.03.2026",
        "amount": "100,00",
        "payer": payer,
        "recipient_inn": INN,
        "recipient_kpp": KPP,
        "account_number": ACCOUNT_NUMBER,
    }


@pytest.mark.parametrize("form", ["csv", "jsonl"])
def test_the_cli_import_rejects_a_line_with_a_nul_and_imports_the_others(
    tmp_path: Path, sqlite_settings: Settings, form: str
) -> None:
    ledger = build_ledger(sqlite_settings)
    setup_world(ledger)
    ledger.close()
    rows = [_row(1, "Иванов И.И."), _row(2, "Петров\u0000"), _row(3, "Сидоров\u0007")]
    register = tmp_path / f"register.{form}"
    if form == "csv":
        _register(register, rows)  # a raw 0x00 byte in the file
        assert b"\x00" in register.read_bytes()
    else:
        register.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env["KVIT_DATA_DIR"] = str(sqlite_settings.data_dir)
    done = subprocess.run(
        [KVIT, "notices", "import", str(register), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 2), summary
    with open(summary["rejects_file"], encoding="utf-8-sig") as rejects:
        codes = {
            row["order_id"][-2:]: row["code"] for row in csv.DictReader(rejects, delimiter=";")
        }
    assert codes == {"02": "invalid_text", "03": "invalid_text"}
