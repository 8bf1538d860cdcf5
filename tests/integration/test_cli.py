"""The command line as a new user meets it: the real `kvit` executable, one clear line
for every error (a traceback only with --debug), no start on an unmigrated database, the
signing key, the public URL, and the CLI's own checks."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from ledger.settings import Settings
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.processes import KVIT, kvit_serve

REPO = Path(__file__).resolve().parents[2]
SECRET = "cli-test-secret-key-that-is-long-enough-0123456789"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env.update(KVIT_DATA_DIR=str(tmp_path / "var"), **extra)
    return env


def run(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KVIT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A failed command said what is wrong in one line of stderr, with no traceback."""
    assert done.returncode != 0, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "╭" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def fresh_schema() -> Iterator[Settings]:
    """A PostgreSQL schema that exists but was never migrated."""
    postgres_or_fail()
    schema = f"harden_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield Settings(database_url=TEST_DATABASE_URL, database_schema=schema)
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def pg_env(tmp_path: Path, settings: Settings, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path,
        KVIT_DATABASE_URL=str(settings.database_url),
        KVIT_DATABASE_SCHEMA=str(settings.database_schema),
        KVIT_SECRET_KEY=SECRET,
        KVIT_ACQUIRER_SECRET=SECRET + "-acquirer",
        **extra,
    )


# --- a wrong database URL --------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, cause",
    [
        ("postgresql://postgres@127.0.0.1:5432/harden_no_such_db", 'database "harden_no_such_db"'),
        ("postgresql://harden_no_such_role@127.0.0.1:5432/test", 'role "harden_no_such_role"'),
        ("postgresql://postgres@127.0.0.1:1/test", "refused"),
        ("postgresql://postgres@harden-no-such-host.invalid:5432/test", "harden-no-such-host"),
    ],
)
def test_a_wrong_database_url_is_one_line_with_its_cause(
    tmp_path: Path, url: str, cause: str
) -> None:
    postgres_or_fail()
    env = clean_env(tmp_path, KVIT_DATABASE_URL=url)
    line = one_line_error(run(env, "migrate"), cause)
    assert "couldn't get a connection" not in line

    debug = run(env, "migrate", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "variable, url, command",
    [
        ("KVIT_DATABASE_URL", "kvit:s3cret-pw@127.0.0.1:5432/test", ("migrate",)),
        ("KVIT_DATABASE_URL", "127.0.0.1:5432/test", ("project",)),
        ("KVIT_DATABASE_URL", "mysql://kvit:s3cret-pw@127.0.0.1/test", ("serve",)),
        ("KVIT_DATABASE_URL", "postgresql+psycopg://kvit:s3cret-pw@127.0.0.1/test", ("migrate",)),
        ("KVIT_READ_DATABASE_URL", "kvit:s3cret-pw@127.0.0.1:5432/test", ("projections", "status")),
    ],
)
def test_a_database_url_that_is_no_postgresql_url_names_its_variable(
    tmp_path: Path, variable: str, url: str, command: tuple[str, ...]
) -> None:
    """libpq reads a string without `postgresql://` as `key=value` pairs and psycopg says
    `ProgrammingError: missing "="`, naming neither the setting nor what it should be."""
    urls = {"KVIT_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test", variable: url}
    env = clean_env(
        tmp_path, KVIT_SECRET_KEY=SECRET, KVIT_ACQUIRER_SECRET=SECRET + "-acquirer", **urls
    )
    line = one_line_error(run(env, *command, timeout=30), variable, "postgresql://")
    assert "ProgrammingError" not in line and "s3cret-pw" not in line, line


def test_a_setting_that_does_not_parse_is_one_line_naming_it(tmp_path: Path) -> None:
    env = clean_env(tmp_path, KVIT_DATABASE_POOL_SIZE="ten")
    line = one_line_error(run(env, "migrate"), "database_pool_size")
    assert "validation error" not in line, line


# --- no start on an unmigrated PostgreSQL schema ---------------------------------------------
@pytest.mark.parametrize(
    "command",
    [("serve", "--port", "18399"), ("project",), ("mail",), ("audit", "follow")],
)
def test_workers_refuse_an_unmigrated_database(
    tmp_path: Path, fresh_schema: Settings, command: tuple[str, ...]
) -> None:
    env = pg_env(
        tmp_path,
        fresh_schema,
        KVIT_SMTP_URL="smtp://127.0.0.1:1025",
        KVIT_AUDIT_SIGNING_KEY="11" * 32,
    )
    started = time.monotonic()
    one_line_error(run(env, *command, timeout=30), "run `kvit migrate`")
    assert time.monotonic() - started < 20


# --- secrets and the sandbox -----------------------------------------------------------------
def test_serve_refuses_a_placeholder_secret_in_one_line(tmp_path: Path) -> None:
    env = clean_env(tmp_path, KVIT_ACQUIRER_SECRET="change-me-too")
    one_line_error(run(env, "serve", "--port", "18398"), "KVIT_ACQUIRER_SECRET", "placeholder")


def test_token_from_another_directory_refuses_instead_of_making_a_new_secret(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in clean_env(tmp_path).items() if k != "KVIT_DATA_DIR"}
    one_line_error(
        run(env, "token", "--role", "operator", cwd=elsewhere), "no token secret", "KVIT_SECRET_KEY"
    )
    assert not (elsewhere / "var").exists()

    served = tmp_path / "served"
    (served / "var").mkdir(parents=True)
    (served / "var" / "secret_key").write_text("s" * 64)
    done = run(env, "token", "--role", "operator", cwd=served)
    assert done.returncode == 0, done.stderr
    assert str((served / "var" / "secret_key").resolve()) in done.stderr
    assert done.stdout.count(".") == 2  # a JWT, alone on stdout


# --- the signing key -------------------------------------------------------------------------
def test_keygen_writes_a_private_key_file_and_prints_the_public_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "audit-signing-key"
    env = clean_env(tmp_path, KVIT_AUDIT_SIGNING_KEY_FILE=str(key_file))

    done = run(env, "audit", "keygen")

    assert done.returncode == 0, done.stderr
    # The raw key (hex), then the log's note verifier key: <origin>+<key ID>+<base64>.
    assert re.fullmatch(r"[0-9a-f]{64}\n[^\s+]+/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n", done.stdout)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run(env, "audit", "public-key").stdout == done.stdout
    one_line_error(run(env, "audit", "keygen"), "already exists")  # never overwrites a key


def test_a_missing_or_malformed_signing_key_is_one_line(tmp_path: Path) -> None:
    missing = clean_env(tmp_path, KVIT_AUDIT_SIGNING_KEY_FILE=str(tmp_path / "nope"))
    one_line_error(run(missing, "audit", "public-key"), "kvit audit keygen")
    bad = clean_env(tmp_path, KVIT_AUDIT_SIGNING_KEY="not-hex")
    one_line_error(run(bad, "audit", "public-key"), "not an Ed25519 key")


def test_demo_and_follow_check_the_key_before_writing_anything(
    tmp_path: Path, pg_settings: Settings
) -> None:
    env = pg_env(tmp_path, pg_settings)  # PostgreSQL: no key is generated

    one_line_error(run(env, "demo"), "no audit signing key")
    one_line_error(run(env, "audit", "follow"), "no audit signing key")

    schema = pg_settings.database_schema
    with psycopg.connect(TEST_DATABASE_URL) as connection:
        events = connection.execute(
            sql.SQL("SELECT count(*) FROM {}.kvit_events").format(sql.Identifier(str(schema)))
        ).fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name LIKE 'audit%%'",
            [schema],
        ).fetchone()
    assert events == (0,) and tables == (0,)


# --- auditor commands on the embedded store --------------------------------------------------
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    done = run(clean_env(home), "demo", "--suppliers", "1", "--accounts", "2", "--months", "1")
    assert done.returncode == 0, done.stderr
    return home


def test_a_missing_or_non_json_checkpoint_file_is_one_line(demo_dir: Path) -> None:
    env = clean_env(demo_dir)
    one_line_error(
        run(env, "audit", "verify", "--checkpoint", str(demo_dir / "none.json")),
        "no such file",
    )
    garbage = demo_dir / "garbage.json"
    garbage.write_text("this is not json\n")
    one_line_error(
        run(env, "audit", "verify", "--checkpoint", str(garbage)), "not a checkpoint file"
    )


def test_an_existing_export_directory_is_refused(demo_dir: Path) -> None:
    env = clean_env(demo_dir)
    target = demo_dir / "export"
    assert run(env, "audit", "export", str(target)).returncode == 0
    again = run(env, "audit", "export", str(target))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert "Traceback" not in again.stderr
    assert run(env, "audit", "export", str(target), "--force").returncode == 0


def test_verify_export_into_head_ends_quietly(demo_dir: Path) -> None:
    target = demo_dir / "export-head"
    assert run(clean_env(demo_dir), "audit", "export", str(target)).returncode == 0
    script = f"{sys.executable} {REPO / 'docs' / 'verify_export.py'} {target} --json | head -c 10"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert len(done.stdout) == 10
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_weak_cli_checks_refuse_nonsense(demo_dir: Path) -> None:
    env = clean_env(demo_dir)
    foo = run(env, "audit", "balance", "--ledger-account", "foo")
    assert foo.returncode == 2 and "not a ledger account" in foo.stderr
    unknown = f"wallet:{uuid.uuid4()}"
    missing = run(env, "audit", "balance", "--ledger-account", unknown)
    assert missing.returncode == 1 and missing.stdout == ""
    assert run(env, "token", "--role", "operator", "--lifetime", "-60").returncode == 2
    assert run(env, "audit", "follow", "--every", "-1").returncode == 2
    assert run(env, "serve", "--port", "70000").returncode == 2


def test_an_unknown_read_model_is_one_line(tmp_path: Path, pg_settings: Settings) -> None:
    one_line_error(run(pg_env(tmp_path, pg_settings), "project", "nosuch"), "unknown projection")


# --- the public URL follows --host/--port ----------------------------------------------------
def test_the_public_url_follows_the_port_so_the_sandbox_checkout_works(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    with kvit_serve(env) as base:
        token = run(env, "token", "--role", "resident", "--payer", "anna").stdout.strip()
        me = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=me, timeout=10) as client:
            wallet = client.post("/v1/me/wallets", headers={"Idempotency-Key": "w"}).json()
            top_up = client.post(
                f"/v1/wallets/{wallet['id']}/top-ups",
                json={"amount": 1000},
                headers={"Idempotency-Key": "t"},
            ).json()
            assert top_up["checkout_url"].startswith(f"{base}/sandbox/checkout/")
            approved = client.post(
                top_up["checkout_url"].split("?")[0],
                content="decision=approve&amount=1000",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert approved.status_code == 200 and "Квит получил уведомление" in approved.text
            balance = client.get(f"/v1/wallets/{wallet['id']}").json()["balance"]
            assert balance == 1000


def test_the_docs_are_served_offline_with_bearer_auth(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ledger.application import Ledger
    from ledger.engine.persistence import in_memory_env
    from tests.api.helpers import build_app

    with TestClient(build_app(tmp_path, Ledger(in_memory_env()))) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "cdn.jsdelivr.net" not in page.text and "unpkg.com" not in page.text
        assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', page.text)
        assert len(assets) >= 2, page.text
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
        assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
        assert json.dumps(client.get("/openapi.json").json()).count('"security"') > 0
