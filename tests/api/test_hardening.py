"""Issue 9, money and security: safe defaults, one allocation rule, proof of possession,
tokens that end, private files; and bad input that used to give a 500."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from fastapi.testclient import TestClient

from api.auth import Role
from api.config_checks import ConfigurationError, check_secrets
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.settings import Settings
from tests.api.helpers import (
    ADDRESS,
    PUBLIC_URL,
    SECRET,
    Headers,
    World,
    account,
    api_settings,
    bearer,
    build_app,
    created,
    fund,
    issue_bill,
    keyed,
    link,
    open_account,
    open_wallet,
    pay,
    problem,
    register_supplier,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = "postgresql://kvit:kvit@db.invalid:5432/kvit"
GOOD = "x" * 40


# --- 1. the sandbox and the secrets ----------------------------------------------------------
def test_the_sandbox_acquirer_is_off_by_default_on_postgres(tmp_path: Path) -> None:
    settings = api_settings(
        tmp_path, database_url=POSTGRES_URL, secret_key=GOOD, acquirer_secret=GOOD
    )
    assert settings.sandbox_enabled is False
    assert api_settings(tmp_path).sandbox_enabled is True  # embedded: a development server
    explicit = api_settings(tmp_path, database_url=POSTGRES_URL, sandbox_acquirer=True)
    assert explicit.sandbox_enabled is True


def test_the_sandbox_checkout_is_not_mounted_on_postgres_by_default(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    app = build_app(
        tmp_path,
        memory_ledger,
        database_url=POSTGRES_URL,
        secret_key=GOOD,
        acquirer_secret=GOOD + "y",
    )
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: no database needed
    checkout = client.get("/sandbox/checkout/00000000-0000-0000-0000-000000000000?amount=1")
    problem(checkout, 404, "not_found")


@pytest.mark.parametrize(
    "variable, value, why",
    [
        ("acquirer_secret", "sandbox-acquirer-secret", "published default"),
        ("acquirer_secret", "change-me-too", "placeholder"),
        ("secret_key", "change-me-to-a-long-random-secret-of-32-bytes-or-more", "placeholder"),
        ("secret_key", "short-secret", "shorter than 32 bytes"),
        ("acquirer_secret", "a" * 31, "shorter than 32 bytes"),
    ],
)
def test_serve_refuses_a_default_placeholder_or_short_secret(
    tmp_path: Path, memory_ledger: Ledger, variable: str, value: str, why: str
) -> None:
    with pytest.raises(ConfigurationError, match=why) as refused:
        build_app(tmp_path, memory_ledger, **{variable: value})
    assert f"KVIT_{variable.upper()}" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_postgres_needs_both_secrets_set(tmp_path: Path) -> None:
    for missing in ("secret_key", "acquirer_secret"):
        values = {"secret_key": GOOD, "acquirer_secret": GOOD, missing: None}
        settings = api_settings(tmp_path, database_url=POSTGRES_URL, **values)
        with pytest.raises(ConfigurationError, match=f"set KVIT_{missing.upper()}"):
            check_secrets(settings)


def test_docker_compose_secrets_are_refused_or_must_be_given() -> None:
    """The compose file must not ship a secret `serve` would start with: each is either a
    required variable (`${VAR:?…}`) or a value the check refuses."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    environment = compose["x-kvit"]["environment"]
    for name in ("KVIT_SECRET_KEY", "KVIT_ACQUIRER_SECRET"):
        value = str(environment[name])
        if value.startswith("${") and ":?" in value:
            continue
        field = name.removeprefix("KVIT_").lower()
        with pytest.raises(ConfigurationError):
            check_secrets(ApiSettings(_env_file=None, **{field: value}))  # type: ignore[call-arg]


# --- 2. one allocation rule ------------------------------------------------------------------
def test_a_bill_shown_as_paid_is_not_charged_again(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    issue_bill(client, operator, account_id)
    link(client, resident)
    wallet_id = open_wallet(client, resident)
    fund(client, resident, wallet_id, 2 * BILL_TOTAL)
    world = World(supplier_id, account_id, "", wallet_id)
    pay(client, resident, world, confirm=True)  # the account's whole due, no bill named

    shown = account(client, operator, account_id)
    assert shown["bills"][0]["status"] == "paid"
    again = client.post(
        "/v1/payments",
        json={
            "account_id": account_id,
            "method": "wallet",
            "wallet_id": wallet_id,
            "document_id": DOCUMENT_ID,
        },
        headers=keyed(resident),
    )
    problem(again, 422, "nothing_due")


def test_the_default_amount_of_a_bill_payment_is_what_the_bill_shows_as_due(
    client: TestClient, operator: Headers, resident: Headers
) -> None:
    """An advance and a payment without a bill reach the oldest bill first (the read side's
    rule); the write side's default amount for each bill must agree with what is shown."""
    supplier_id = register_supplier(client, operator)
    account_id = open_account(client, operator, supplier_id)
    link(client, resident, proof={})
    wallet_id = open_wallet(client, resident)
    fund(client, resident, wallet_id, 10 * BILL_TOTAL)
    world = World(supplier_id, account_id, "", wallet_id)
    pay(client, resident, world, amount=1000, confirm=True)  # an advance, before any bill
    march = issue_bill(client, operator, account_id)
    april = "70АА000560-01-6104"
    issue_bill(client, operator, account_id, document_id=april, period="2026-04")
    pay(client, resident, world, amount=BILL_TOTAL // 2, confirm=True)  # no bill named

    for document_id, bill_id in ((april, None), (DOCUMENT_ID, march)):
        bills = {b["document_id"]: b for b in account(client, operator, account_id)["bills"]}
        shown_due = bills[document_id]["amount_due"] - bills[document_id]["paid"]
        qr = client.get(f"/v1/bills/{document_id}/qr", params={"format": "text"}, headers=operator)
        assert f"|Sum={shown_due}|" in qr.text, qr.text  # the bill's QR asks the same
        paid = pay(client, resident, world, document_id=document_id, confirm=True)
        assert paid["amount"] == shown_due, (document_id, bill_id)
    after = account(client, operator, account_id)
    assert {b["status"] for b in after["bills"]} == {"paid"}
    assert after["balance"]["advance"] == 0


# --- 3. proof of possession ------------------------------------------------------------------
@pytest.fixture
def billed(client: TestClient, operator: Headers) -> str:
    account_id = open_account(client, operator, register_supplier(client, operator))
    issue_bill(client, operator, account_id)
    return account_id


def link_body(**proof: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER}
    if proof:
        body["proof"] = proof
    return body


def test_a_link_without_proof_shows_a_masked_address_and_what_is_due_only(
    client: TestClient, resident: Headers, billed: str
) -> None:
    linked = created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    assert linked["access"] == "limited"
    assert linked["address"] != ADDRESS and "Примерная" not in linked["address"]
    assert linked["address"].startswith("г. М")
    assert linked["els"] is None and linked["bills"] == []
    assert linked["balance"] == {
        "accrued": None,
        "paid": None,
        "refunded": None,
        "due": BILL_TOTAL,
        "advance": None,
    }
    shown = client.get(f"/v1/accounts/{billed}", headers=resident).json()
    assert shown["access"] == "limited" and shown["bills"] == []
    mine = client.get("/v1/me/accounts", headers=resident).json()["items"]
    assert [m["access"] for m in mine] == ["limited"]
    history = client.get(f"/v1/accounts/{billed}", params={"as_of": "1"}, headers=resident)
    problem(history, 403, "link_not_proven")


@pytest.mark.parametrize("proof", [{"document_id": DOCUMENT_ID}, {"bill_total": BILL_TOTAL}])
def test_the_ipd_or_a_bill_total_proves_possession(
    client: TestClient, resident: Headers, billed: str, proof: dict[str, Any]
) -> None:
    created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    linked = created(
        client.post("/v1/me/accounts", json=link_body(**proof), headers=keyed(resident))
    )

    assert linked["access"] == "full"
    assert linked["address"] == ADDRESS and len(linked["bills"]) == 1
    mine = client.get("/v1/me/accounts", headers=resident).json()["items"]
    assert [m["access"] for m in mine] == ["full"]  # not a cached limited answer


@pytest.mark.parametrize(
    "proof, field",
    [({"document_id": "70АА000560-01-9999"}, "document_id"), ({"bill_total": 1}, "bill_total")],
)
def test_a_wrong_proof_is_refused_naming_the_field(
    client: TestClient, resident: Headers, billed: str, proof: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/me/accounts", json=link_body(**proof), headers=keyed(resident))

    assert problem(response, 422, "link_proof_mismatch")["field"] == field
    assert client.get("/v1/me/accounts", headers=resident).json()["items"] == []


def test_an_operator_can_confirm_a_payers_link(
    client: TestClient, operator: Headers, resident: Headers, billed: str
) -> None:
    created(client.post("/v1/me/accounts", json=link_body(), headers=keyed(resident)))

    confirmed = client.post(
        f"/v1/accounts/{billed}/payers", json={"payer_id": "payer-anna"}, headers=keyed(operator)
    )

    assert confirmed.status_code == 200, confirmed.text
    shown = client.get(f"/v1/accounts/{billed}", headers=resident).json()
    assert shown["access"] == "full" and shown["address"] == ADDRESS


def test_failed_link_attempts_are_limited_per_payer(
    tmp_path: Path, memory_ledger: Ledger, operator: Headers, resident: Headers
) -> None:
    app = build_app(tmp_path, memory_ledger, link_attempts_limit=3)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        account_id = open_account(client, operator, register_supplier(client, operator))
        issue_bill(client, operator, account_id)
        for number in ("0000000001", "0000000002"):  # unknown numbers count
            missing = {"supplier_inn": INN, "account_number": number}
            response = client.post("/v1/me/accounts", json=missing, headers=keyed(resident))
            problem(response, 404, "unknown_account")
        wrong = client.post(
            "/v1/me/accounts", json=link_body(bill_total=1), headers=keyed(resident)
        )
        problem(wrong, 422, "link_proof_mismatch")

        # The limit is reached: even the right proof, or an unknown number, answers 429 alike.
        for body in (link_body(document_id=DOCUMENT_ID), {**link_body(), "account_number": "9"}):
            refused = client.post("/v1/me/accounts", json=body, headers=keyed(resident))
            problem(refused, 429, "link_attempts_exceeded")
            assert int(refused.headers["retry-after"]) > 0
        other = bearer(Role.RESIDENT, "payer-boris")
        ok = client.post(
            "/v1/me/accounts", json=link_body(bill_total=BILL_TOTAL), headers=keyed(other)
        )
        assert ok.status_code == 201 and ok.json()["access"] == "full"


# --- 4. tokens end; private files ------------------------------------------------------------
def test_a_token_without_exp_is_refused(client: TestClient) -> None:
    token = jwt.encode({"role": "operator"}, SECRET, algorithm="HS256")
    response = client.get(
        "/v1/suppliers", params={"inn": INN}, headers={"Authorization": f"Bearer {token}"}
    )
    problem(response, 401, "unauthorized")
    ends = jwt.encode({"role": "operator", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert (
        client.get(
            "/v1/suppliers", params={"inn": INN}, headers={"Authorization": f"Bearer {ends}"}
        ).status_code
        == 200
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_embedded_data_is_private_from_its_creation(tmp_path: Path) -> None:
    data = tmp_path / "var"
    settings = api_settings(data, secret_key=None, acquirer_secret=None)
    migrate(Settings(data_dir=data, database_url=None))
    ledger = build_ledger(settings)
    try:
        with TestClient(build_app(data, ledger, secret_key=None, acquirer_secret=None)) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        ledger.close()
    assert mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert {"secret_key", "acquirer_secret", "kvit.sqlite3", "kvit-read.sqlite3"} <= set(files)
    for path in data.iterdir():
        assert mode(path) & 0o077 == 0, (path.name, oct(mode(path)))


# --- bad input never gives a 500 -------------------------------------------------------------
@pytest.mark.parametrize(
    "as_of",
    [
        "9999-12-31T23:59:59-14:00",  # overflows on the way to UTC
        "1000-01-01T00:00:00+14:00",  # year 999 in UTC: would sort as text
        "0999-12-31T00:00:00+00:00",
    ],
)
def test_as_of_out_of_range_is_a_422(
    client: TestClient, operator: Headers, world: World, as_of: str
) -> None:
    response = client.get(
        f"/v1/accounts/{world.account_id}", params={"as_of": as_of}, headers=operator
    )
    problem(response, 422, "invalid_as_of")
    ledger_account = client.get(
        "/v1/audit/ledger-accounts/acquirer:clearing", params={"as_of": as_of}, headers=operator
    )
    problem(ledger_account, 422, "invalid_as_of")


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    try:
        with TestClient(build_app(tmp_path / "var", ledger), base_url=PUBLIC_URL) as client:
            yield client
    finally:
        ledger.close()


@pytest.mark.parametrize("path", ["/v1/audit/events", "/v1/audit/checkpoints"])
def test_a_position_beyond_64_bits_is_a_422_on_sqlite(
    sqlite_client: TestClient, auditor: Headers, path: str
) -> None:
    problem(
        sqlite_client.get(path, params={"after": 2**63}, headers=auditor), 422, "validation_error"
    )
    assert sqlite_client.get(path, params={"after": 2**63 - 2}, headers=auditor).status_code == 200


def test_a_replayed_wallet_opening_shows_the_funded_balance(
    client: TestClient, resident: Headers
) -> None:
    headers = keyed(resident)
    wallet = created(client.post("/v1/me/wallets", headers=headers))
    fund(client, resident, wallet["id"], 5000)

    again = client.post("/v1/me/wallets", headers=headers)

    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["balance"] == 5000
    assert again.json()["as_of"] > 0


def test_an_email_with_a_nul_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card", "email": "anna\x00@example.com"}
    problem(
        client.post("/v1/payments", json=body, headers=keyed(resident)), 422, "validation_error"
    )


def test_a_transient_database_fault_is_a_503_with_retry_after(
    fragile_client: TestClient, resident: Headers, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault run (tests/integration/test_faults.py) cuts real connections; this pins the
    answer for each kind of fault the database drivers raise."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import OperationalError

    ledger = fragile_client.app.state.services.started().ledger  # type: ignore[attr-defined]
    for fault in (
        OperationalError("server closed the connection unexpectedly"),
        psycopg.OperationalError("terminating connection due to administrator command"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
    ):

        def fail(*_: object, fault: Exception = fault, **__: object) -> None:
            raise fault

        monkeypatch.setattr(ledger, "create_payment", fail)
        response = fragile_client.post(
            "/v1/payments",
            json={"account_id": world.account_id, "method": "wallet", "wallet_id": world.wallet_id},
            headers=keyed(resident),
        )
        problem(response, 503, "database_unavailable")
        assert int(response.headers["retry-after"]) >= 1


def test_compose_runs_as_a_new_user_expects() -> None:
    """The audit service has a key to start with, PostgreSQL does not take the host's 5432,
    kvit has a healthcheck, and the image holds no virtualenv, history or local secrets."""
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "kvit audit keygen" in services["migrate"]["command"]
    assert "KVIT_AUDIT_SIGNING_KEY_FILE" in services["audit"]["environment"]
    assert not any("5432" in str(port) for port in services["postgres"].get("ports", []))
    assert "/readyz" in " ".join(services["kvit"]["healthcheck"]["test"])
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)
