"""Safe defaults for a deployment: the sandbox acquirer, the secrets `serve` starts with, the
compose file, and an embedded data directory private from its creation."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.acquirer.signature import HEADER, sign
from api.config_checks import ConfigurationError, check_secrets
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.settings import Settings
from tests.api.helpers import api_settings, build_app, problem

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL = "postgresql://kvit:kvit@db.invalid:5432/kvit"
GOOD = "x" * 40


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


def test_without_the_sandbox_its_checkout_is_gone(tmp_path: Path, memory_ledger: Ledger) -> None:
    app = build_app(tmp_path, memory_ledger, sandbox_acquirer=False)
    with TestClient(app) as client:
        assert (
            client.get(
                "/sandbox/checkout/00000000-0000-0000-0000-000000000000?amount=1"
            ).status_code
            == 404
        )


def test_a_real_acquirer_needs_its_own_secret(tmp_path: Path, memory_ledger: Ledger) -> None:
    with pytest.raises(ConfigurationError, match="KVIT_ACQUIRER_SECRET"):
        build_app(
            tmp_path,
            memory_ledger,
            sandbox_acquirer=False,
            acquirer_secret="sandbox-acquirer-secret",
        )


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


def test_a_secret_hint_names_commands_that_exist_here(tmp_path: Path) -> None:
    """Only `python3` exists on the machines the README targets: no `python -c` in a hint."""
    settings = api_settings(tmp_path, database_url=POSTGRES_URL, secret_key=None)
    with pytest.raises(ConfigurationError) as missing:
        check_secrets(settings)
    with pytest.raises(ConfigurationError) as weak:
        check_secrets(api_settings(tmp_path, secret_key="short"))
    for refused in (missing, weak):
        assert "python -c" not in str(refused.value)
        assert "kvit secrets >> .env" in str(refused.value)
        assert "python3 -c" in str(refused.value)


SANDBOX = {"acquirer": "sandbox"}
TBANK = {"acquirer": "tbank", "tbank_terminal_key": "TinkoffBankTest", "tbank_password": GOOD}


def test_postgres_needs_the_token_secret_with_any_acquirer(tmp_path: Path) -> None:
    for acquirer in (SANDBOX, TBANK, {}):
        settings = api_settings(
            tmp_path, database_url=POSTGRES_URL, secret_key=None, acquirer_secret=GOOD, **acquirer
        )
        with pytest.raises(ConfigurationError, match="set KVIT_SECRET_KEY"):
            check_secrets(settings)


def test_postgres_needs_the_webhook_secret_with_the_sandbox_acquirer(tmp_path: Path) -> None:
    """The sandbox signs its webhook calls with KVIT_ACQUIRER_SECRET: every process must share
    it, so on PostgreSQL it must be set."""
    settings = api_settings(
        tmp_path, database_url=POSTGRES_URL, secret_key=GOOD, acquirer_secret=None, **SANDBOX
    )
    with pytest.raises(ConfigurationError, match="set KVIT_ACQUIRER_SECRET"):
        check_secrets(settings)


@pytest.mark.parametrize("acquirer", [TBANK, {"sandbox_acquirer": False}], ids=["tbank", "none"])
def test_without_the_sandbox_no_webhook_secret_is_needed(
    tmp_path: Path, memory_ledger: Ledger, acquirer: dict[str, Any]
) -> None:
    """T-Bank signs its notifications with the terminal's password, and with no acquirer
    nothing is signed: KVIT_ACQUIRER_SECRET is not asked for on PostgreSQL, and the sandbox's
    signed webhook takes no notification, whatever it is signed with."""
    check_secrets(
        api_settings(tmp_path, database_url=POSTGRES_URL, acquirer_secret=None, **acquirer)
    )
    with TestClient(build_app(tmp_path, memory_ledger, acquirer_secret=None, **acquirer)) as client:
        body = b'{"operation_id": "00000000-0000-0000-0000-000000000000"}'
        headers = {HEADER: sign("", body), "content-type": "application/json"}
        problem(
            client.post("/v1/acquirer/notifications", content=body, headers=headers),
            404,
            "not_found",
        )
    assert not (tmp_path / "acquirer_secret").exists()  # nor generated in embedded mode


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
