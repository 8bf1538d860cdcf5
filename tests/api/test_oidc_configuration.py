"""OpenID Connect settings: what `serve` refuses, what it says on PostgreSQL without an issuer,
and what the cabinet is told."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.cli.server import development_switches
from api.config_checks import ConfigurationError, check_oidc
from ledger.application import Ledger
from tests.api.helpers import api_settings, build_app, problem

POSTGRES_URL = "postgresql://kvit:kvit@db.invalid:5432/kvit"
GOOD = "x" * 40
ISSUER = "https://id.example.ru/realms/kvit"


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"oidc_client_id": "kvit"}, "KVIT_OIDC_CLIENT_ID needs KVIT_OIDC_ISSUER"),
        ({"oidc_issuer": ISSUER}, "needs KVIT_OIDC_CLIENT_ID"),
        (
            {"oidc_issuer": "http://id.example.ru", "oidc_client_id": "kvit"},
            "KVIT_OIDC_ISSUER must be an https:// URL",
        ),
        (
            {"oidc_issuer": ISSUER, "oidc_client_id": "kvit", "public_url": "http://kvit.test"},
            "KVIT_PUBLIC_URL must be an https:// URL",
        ),
    ],
)
def test_serve_refuses_oidc_settings_that_cannot_work(
    tmp_path: Path, settings: dict[str, str], said: str
) -> None:
    with pytest.raises(ConfigurationError, match=said) as refused:
        check_oidc(api_settings(tmp_path, **settings))
    assert "\n" not in str(refused.value)


def test_loopback_http_is_allowed_for_development(tmp_path: Path) -> None:
    check_oidc(
        api_settings(
            tmp_path,
            oidc_issuer="http://127.0.0.1:9000",
            oidc_client_id="kvit",
            public_url="http://localhost:8000",
        )
    )


def test_postgres_without_an_issuer_says_the_cabinet_cannot_sign_in_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KVIT_CABINET_DEMO_SIGN_IN", raising=False)
    settings = api_settings(
        tmp_path, database_url=POSTGRES_URL, secret_key=GOOD, acquirer_secret=GOOD
    )
    development_switches("127.0.0.1", settings)
    lines = [line for line in capsys.readouterr().err.splitlines() if "sign-in" in line]
    assert lines == [
        "the cabinet's sign-in is off: no identity provider is configured (set"
        " KVIT_OIDC_ISSUER and KVIT_OIDC_CLIENT_ID; API tokens from `kvit token` still work)"
    ]
    with_issuer = api_settings(
        tmp_path,
        database_url=POSTGRES_URL,
        oidc_issuer=ISSUER,
        oidc_client_id="kvit",
        public_url="https://kvit.example.ru",
    )
    development_switches("127.0.0.1", with_issuer)
    assert "sign-in" not in capsys.readouterr().err


def test_without_an_issuer_there_is_no_provider_sign_in(client: TestClient) -> None:
    assert client.get("/cabinet/config.json").json()["oidc"] is False
    answer = client.get("/auth/login", follow_redirects=False)
    assert problem(answer, 501, "sign_in_unavailable")
    assert client.get("/auth/session").json() == {
        "signed_in": False,
        "payer_id": None,
        "role": None,
        "csrf_token": None,
    }


def test_with_an_issuer_the_cabinet_offers_only_the_provider(
    tmp_path: Path, memory_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KVIT_CABINET_DEMO_SIGN_IN", raising=False)
    app = build_app(
        tmp_path,
        memory_ledger,
        public_url="https://kvit.test",
        oidc_issuer=ISSUER,
        oidc_client_id="kvit",
    )
    with TestClient(app, base_url="https://kvit.test") as client:
        config = client.get("/cabinet/config.json").json()
        assert config["oidc"] is True
        assert config["demo"] is False  # a deployment with a provider is a real one
        refused = client.post("/cabinet/demo/sign-in", json={"payer_id": "anyone"})
        assert refused.status_code == 403
