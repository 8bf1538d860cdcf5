"""Attacks on bank notice registers: cut-off lines, a payment credited twice through another
bank, unbounded commission, CR-only line endings and empty registers. Each must end as a clear
rejection that changes nothing, never as money posted wrongly or a 500."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.domain.postings import balances, postings_of
from ledger.errors import LedgerError
from ledger.notices.file import read_register
from ledger.notices.importer import import_register
from ledger.notices.line import COLUMNS, NoticeLine, RejectedLine
from ledger.settings import Settings
from storage.log import iter_events
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    World,
    account,
    bearer,
    build_app,
    make_world,
    problem,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, INN, setup_world

SBER, OTHER_BANK = "044525225", "044525974"
KVIT = str(Path(sys.executable).with_name("kvit"))


@pytest.fixture
def operator() -> Headers:
    return bearer(Role.OPERATOR)


@pytest.fixture
def client(tmp_path: Path, memory_ledger: Ledger) -> Iterator[TestClient]:
    """A client that sees a 500 as a response, as an attacker would."""
    app = build_app(tmp_path, memory_ledger)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, operator: Headers) -> World:
    return make_world(client, operator, bearer(Role.RESIDENT, "payer-anna"))


def order(n: int, bank: str = SBER) -> str:
    return f"1{bank}{n:022d}"


def fields(n: int, **changes: str) -> dict[str, str]:
    return dict.fromkeys(COLUMNS, "") | {
        "order_id": order(n),
        "order_date": "15.03.2026",
        "amount": "1000,00",
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
        **changes,
    }


def csv_register(*lines: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> str:
    rows = [";".join(columns), *(";".join(line[name] for name in columns) for line in lines)]
    return "\r\n".join(rows) + "\r\n"


def post_register(
    client: TestClient, operator: Headers, text: str | bytes, bank: str | None = None
) -> dict[str, object]:
    response = client.post(
        "/v1/notices/batch",
        content=text.encode() if isinstance(text, str) else text,
        params={"bank": bank} if bank else {},
        headers=operator | {"content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def read(text: str) -> list[NoticeLine | RejectedLine]:
    return list(read_register(io.BytesIO(text.encode())))


def codes(summary: dict[str, object]) -> list[tuple[int, str]]:
    rejects = summary["rejects"]
    assert isinstance(rejects, list)
    return sorted((r["line"], r["code"]) for r in rejects)


# --- 5: a cut-off line --------------------------------------------------------------------------
# The account number last: a file cut in its last line pays account `12` instead of `123`.
NUMBER_LAST = (*(c for c in COLUMNS if c != "account_number"), "account_number")
AMOUNT_LAST = (*(c for c in COLUMNS if c != "amount"), "amount")


def test_a_line_with_fewer_fields_than_the_header_is_rejected() -> None:
    short = ";".join(fields(1)[name] for name in COLUMNS[:-2])  # cut before `period`
    text = csv_register(fields(2)) + short + "\r\n" + ";".join(fields(3)[c] for c in COLUMNS)
    first, cut, last = read(text + "\r\n")
    assert isinstance(first, NoticeLine) and isinstance(last, NoticeLine)
    assert isinstance(cut, RejectedLine), f"a line missing its last fields was accepted: {cut}"
    assert (cut.line_no, cut.code) == (3, "malformed_line")


@pytest.mark.parametrize(
    ("columns", "cut_at"),
    [(NUMBER_LAST, "0667000001"[:2]), (AMOUNT_LAST, "150")],
    ids=["account_number", "amount"],
)
def test_a_last_line_without_a_line_break_is_rejected(
    columns: tuple[str, ...], cut_at: str
) -> None:
    last = columns[-1]
    text = csv_register(fields(1), columns=columns)
    text += ";".join(fields(2)[c] for c in columns[:-1]) + ";" + cut_at  # the file ends here
    first, cut = read(text)
    assert isinstance(first, NoticeLine)
    assert isinstance(cut, RejectedLine), f"a cut-off {last} was accepted: {cut}"
    assert (cut.line_no, cut.code, cut.order_id) == (3, "unterminated_line", order(2))


def test_a_json_lines_register_without_a_final_line_break_rejects_its_last_line() -> None:
    first, cut = read('{"order_id": "x"}\n{"order_id": "y"}')
    assert isinstance(first, RejectedLine) and first.code == "invalid_order_id"
    assert isinstance(cut, RejectedLine) and cut.code == "unterminated_line"


def test_a_cut_off_register_posts_nothing_wrong_and_the_whole_file_lands_later(
    client: TestClient, world: World, operator: Headers
) -> None:
    whole = csv_register(fields(1), fields(2, amount="1500,00"), columns=AMOUNT_LAST)
    cut = whole[: whole.rindex("1500,00") + len("150")]
    summary = post_register(client, operator, cut)
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert codes(summary) == [(3, "unterminated_line")]
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 100000
    resent = post_register(client, operator, whole)
    assert (resent["accepted"], resent["duplicates"], resent["conflicts"]) == (1, 1, 0)
    due = account(client, operator, world.account_id)["balance"]["due"]
    assert due == BILL_TOTAL - 100000 - 150000


# --- 6: one payment credited twice through another bank -------------------------------------
def test_a_notice_posted_again_under_another_bank_is_refused_over_http(
    client: TestClient, world: World, operator: Headers
) -> None:
    notice = {
        "order_id": order(1),
        "order_date": "2026-03-15",
        "amount": 100000,
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    assert client.post("/v1/notices", json=notice, headers=operator).status_code == 201
    again = client.post("/v1/notices", json=notice, params={"bank": OTHER_BANK}, headers=operator)
    found = problem(again, 422, "bank_mismatch")
    assert (found["order_id"], found["bank_bik"]) == (order(1), OTHER_BANK)
    annul = {"order_id": order(1), "annul_date": "2026-03-20"}
    problem(
        client.post(
            "/v1/notices/annulments", json=annul, params={"bank": OTHER_BANK}, headers=operator
        ),
        422,
        "bank_mismatch",
    )
    same = client.post("/v1/notices", json=notice, params={"bank": SBER}, headers=operator)
    assert (same.status_code, same.json()["outcome"]) == (200, "duplicate")
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 100000


def test_a_register_posted_again_under_another_bank_is_all_rejected(
    client: TestClient, world: World, operator: Headers
) -> None:
    register = csv_register(fields(1), fields(2))
    assert post_register(client, operator, register)["accepted"] == 2
    again = post_register(client, operator, register, bank=OTHER_BANK)
    assert (again["accepted"], again["rejected"]) == (0, 2)
    assert codes(again) == [(2, "bank_mismatch"), (3, "bank_mismatch")]
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL - 200000


def test_an_order_id_without_a_bik_still_takes_the_bank_it_is_given(memory_ledger: Ledger) -> None:
    setup_world(memory_ledger)
    unmarked = fields(1, order_id="2" + "7" * 31)  # a payment agent's: no `1` + БИК
    text = csv_register(unmarked).encode()
    summary = import_register(memory_ledger, io.BytesIO(text), bank_bik=OTHER_BANK)
    assert summary.accepted == 1
    assert import_register(memory_ledger, io.BytesIO(text)).rejected == 1  # unknown_bank


def clearing(ledger: Ledger) -> dict[str, int]:
    postings = [p for _, event in iter_events(ledger) for p in postings_of(event)]
    totals = balances(postings)
    assert sum(totals.values()) == 0
    return {name: amount for name, amount in totals.items() if name.startswith("bank:")}


def kvit(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env |= {
        "KVIT_DATA_DIR": str(tmp_path / "var"),
        "KVIT_DATABASE_URL": str(settings.database_url),
        "KVIT_DATABASE_SCHEMA": str(settings.database_schema),
    }
    return subprocess.run(
        [KVIT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.postgres
def test_the_cli_refuses_a_register_re_sent_under_another_bank(
    pg_settings: Settings, tmp_path: Path
) -> None:
    ledger = build_ledger(pg_settings)
    try:
        world = setup_world(ledger)
        register = tmp_path / "register.csv"
        register.write_text(csv_register(fields(1), fields(2)), encoding="utf-8")
        first = kvit(pg_settings, tmp_path, "notices", "import", "--json", str(register))
        assert first.returncode == 0, first.stderr
        assert '"accepted": 2' in first.stdout
        again = kvit(
            pg_settings, tmp_path, "notices", "import", "--json", "--bank", OTHER_BANK,
            str(register),
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert '"accepted": 0' in again.stdout and '"rejected": 2' in again.stdout
        rejects = next(tmp_path.glob("register.csv.rejects-*.csv")).read_text("utf-8-sig")
        assert rejects.count("bank_mismatch") == 2
        assert clearing(ledger) == {f"bank:{SBER}:clearing": 200000}  # one bank, once
        assert ledger.get_account(world.account_id).paid == 200000
    finally:
        ledger.close()


# --- 7: commission -------------------------------------------------------------------------------
def test_a_commission_above_the_amount_is_rejected() -> None:
    header = (*COLUMNS, "commission")
    huge = fields(1, amount="10,00") | {"commission": "9999999999999999,99"}
    fair = fields(2, amount="10,00") | {"commission": "10,00"}
    rejected, accepted = read(csv_register(huge, fair, columns=header))
    assert isinstance(rejected, RejectedLine) and rejected.code == "invalid_commission"
    assert isinstance(accepted, NoticeLine) and accepted.commission == 1000


def test_a_commission_above_the_amount_is_a_422_over_http(
    client: TestClient, world: World, operator: Headers
) -> None:
    notice = {
        "order_id": order(1),
        "order_date": "2026-03-15",
        "amount": 1000,
        "commission": 1001,
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    problem(client.post("/v1/notices", json=notice, headers=operator), 422, "invalid_commission")
    assert account(client, operator, world.account_id)["balance"]["due"] == BILL_TOTAL


# --- 13: CR-only line endings --------------------------------------------------------------------
def test_a_register_with_cr_only_line_endings_reads_like_any_other(
    client: TestClient, world: World, operator: Headers
) -> None:
    text = csv_register(fields(1), fields(2)).replace("\r\n", "\r")
    assert [type(line) for line in read(text)] == [NoticeLine, NoticeLine]
    summary = post_register(client, operator, text)
    assert summary["accepted"] == 2


def test_a_stray_cr_inside_a_line_is_that_lines_rejection_not_a_500(
    client: TestClient, world: World, operator: Headers
) -> None:
    text = csv_register(fields(1, payer="Иванов\rИ."), fields(2))
    summary = post_register(client, operator, text)
    assert (summary["accepted"], codes(summary)) == (1, [(2, "malformed_line")])


# --- 19: an empty register ---------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "\r\n\r\n", ";".join(COLUMNS) + "\r\n", "\ufeff"])
def test_an_empty_register_is_refused_not_a_success(
    client: TestClient, world: World, operator: Headers, memory_ledger: Ledger, text: str
) -> None:
    with pytest.raises(LedgerError) as caught:
        import_register(memory_ledger, io.BytesIO(text.encode()))
    assert caught.value.code == "empty_register"
    response = client.post(
        "/v1/notices/batch", content=text.encode(), headers=operator | {"content-type": "text/csv"}
    )
    problem(response, 422, "empty_register")


def test_the_cli_says_an_empty_register_is_empty_and_fails(tmp_path: Path) -> None:
    register = tmp_path / "empty.csv"
    register.write_text(";".join(COLUMNS) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env["KVIT_DATA_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [KVIT, "notices", "import", str(register)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "empty" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("empty.csv.rejects-*")), "an empty rejects file was left behind"
