"""What the cabinet page needs from the server: the page itself, the resident's wallets, a bill
with its lines and recipient, and the demo sign-in (embedded mode only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.application import Ledger
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    World,
    build_app,
    fund,
    open_wallet,
    problem,
)
from tests.fixtures import DOCUMENT_ID, INN, LINES, REQUISITES


def test_the_page_is_served_at_the_root_with_its_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ru">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/cabinet/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/cabinet/cabinet.css").headers["content-type"].startswith("text/css")
    assert client.get("/cabinet/nothing-here.js").status_code == 404


def test_every_module_the_page_imports_is_served(client: TestClient) -> None:
    """No asset from elsewhere: every import and link is a relative or /cabinet/ path."""
    import re

    root = Path(__file__).resolve().parents[2] / "api" / "cabinet"
    for source in root.rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', source.read_text()):
            path = (source.parent / target).resolve().relative_to(root)
            assert client.get(f"/cabinet/{path}").status_code == 200, (source, target)
    html = (root / "index.html").read_text()
    assert "http://" not in html and "https://" not in html


def test_my_wallets_lists_only_mine(
    client: TestClient, world: World, resident: Headers, other_resident: Headers
) -> None:
    fund(client, resident, world.wallet_id, 12_345)
    mine = client.get("/v1/me/wallets", headers=resident).json()["items"]
    assert [(w["id"], w["balance"]) for w in mine] == [(world.wallet_id, 12_345)]
    assert client.get("/v1/me/wallets", headers=other_resident).json() == {"items": []}
    open_wallet(client, other_resident)
    theirs = client.get("/v1/me/wallets", headers=other_resident).json()["items"]
    assert len(theirs) == 1 and theirs[0]["balance"] == 0 and theirs[0]["id"] != world.wallet_id


def test_my_wallets_is_for_residents(client: TestClient, operator: Headers) -> None:
    problem(client.get("/v1/me/wallets", headers=operator), 403, "forbidden")


def test_a_bill_with_its_lines_and_the_recipient(
    client: TestClient, world: World, resident: Headers, auditor: Headers
) -> None:
    path = f"/v1/accounts/{world.account_id}/bills/{world.bill_id}"
    bill = client.get(path, headers=resident).json()
    assert bill["document_id"] == DOCUMENT_ID
    assert bill["lines"] == [{"service": li["service"], "amount": li["amount"]} for li in LINES]
    assert bill["amount_due"] == sum(li["amount"] for li in LINES)
    assert bill["status"] == "unpaid" and bill["paid"] == 0
    assert bill["recipient"]["inn"] == INN
    assert bill["recipient"]["settlement_account"] == REQUISITES["settlement_account"]
    assert client.get(path, headers=auditor).status_code == 200


def test_a_bill_is_hidden_from_other_residents_and_other_accounts(
    client: TestClient, world: World, other_resident: Headers, operator: Headers
) -> None:
    path = f"/v1/accounts/{world.account_id}/bills/{world.bill_id}"
    problem(client.get(path, headers=other_resident), 404, "not_found")
    unknown = f"/v1/accounts/{world.account_id}/bills/{world.account_id}"
    problem(client.get(unknown, headers=operator), 404, "not_found")


def test_demo_sign_in_gives_a_resident_token(client: TestClient, world: World) -> None:
    assert client.get("/cabinet/config.json").json()["demo"] is True
    residents = client.get("/cabinet/demo/residents").json()
    assert {"payer_id": "payer-anna", "accounts": 1} in residents
    signed = client.post("/cabinet/demo/sign-in", json={"payer_id": "payer-anna"}).json()
    mine = client.get("/v1/me/accounts", headers={"Authorization": f"Bearer {signed['token']}"})
    assert [a["id"] for a in mine.json()["items"]] == [world.account_id]
    problem(client.post("/cabinet/demo/sign-in", json={"payer_id": "a b"}), 422, "validation_error")


def test_demo_sign_in_can_be_turned_off(
    tmp_path: Path, memory_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVIT_CABINET_DEMO_SIGN_IN", "false")
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as client:
        assert client.get("/cabinet/config.json").json()["demo"] is False
        problem(client.post("/cabinet/demo/sign-in", json={"payer_id": "x"}), 403, "forbidden")
        problem(client.get("/cabinet/demo/residents"), 403, "forbidden")
        assert client.get("/").status_code == 200


def test_demo_sign_in_is_off_on_postgres_unless_asked(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    app = build_app(tmp_path, memory_ledger, database_url="postgresql://unused@127.0.0.1/unused")
    assert app.state.services.cabinet_demo is False
