"""The `.env` trap: a `.env` file is not a shell. A line `KVIT_SECRET_KEY=$(python3 -c …)` makes
the literal text the secret, which anyone who read the compose file's comment knows, and a token
signed with it was accepted as operator. Secrets that look like unexpanded shell are refused
wherever one is used; `.env.example` ships placeholders that are refused too, and `kvit secrets`
(or the python3 line in `.env.example`) writes real ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from api.config_checks import ConfigurationError, check_secrets
from api.settings import ApiSettings
from ledger.application import Ledger
from tests.api.helpers import build_app

REPO = Path(__file__).resolve().parents[2]
KVIT = str(Path(sys.executable).with_name("kvit"))
GOOD = "a-real-random-acquirer-secret-0123456789-abcdef"
SUGGESTED = "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
SHELL_SHAPED = [
    SUGGESTED,
    "${KVIT_GENERATED_SECRET_THAT_WAS_NEVER_EXPANDED_0123456789}",
    "`openssl rand -base64 48` # a long enough comment to pass the length check",
]


def env_without_kvit(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env["KVIT_DATA_DIR"] = str(tmp_path / "var")
    return env


def test_the_suggested_dotenv_line_is_read_literally_and_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_ledger: Ledger
) -> None:
    (tmp_path / ".env").write_text(f"KVIT_SECRET_KEY={SUGGESTED}\nKVIT_ACQUIRER_SECRET={GOOD}\n")
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("KVIT_")]:
        monkeypatch.delenv(name)
    settings = ApiSettings()
    assert settings.secret_key == SUGGESTED  # the trap: no shell ran, the text is the secret
    with pytest.raises(ConfigurationError, match=r"KVIT_SECRET_KEY.*shell") as refused:
        check_secrets(settings)
    assert "\n" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="KVIT_SECRET_KEY"):
        build_app(tmp_path, memory_ledger, secret_key=SUGGESTED)


@pytest.mark.parametrize("value", SHELL_SHAPED)
@pytest.mark.parametrize("variable", ["secret_key", "acquirer_secret"])
def test_a_secret_that_looks_like_unexpanded_shell_is_refused(
    tmp_path: Path, memory_ledger: Ledger, variable: str, value: str
) -> None:
    assert len(value.encode()) >= 32  # long enough: only its shape gives it away
    with pytest.raises(ConfigurationError, match="shell") as refused:
        build_app(tmp_path, memory_ledger, **{variable: value})
    assert f"KVIT_{variable.upper()}" in str(refused.value)


def test_kvit_token_refuses_to_sign_with_a_shell_shaped_secret(tmp_path: Path) -> None:
    """The operator token signed with the literal text was the exploit; no token at all now."""
    env = {**env_without_kvit(tmp_path), "KVIT_SECRET_KEY": SUGGESTED}
    done = subprocess.run(
        [KVIT, "token", "--role", "operator"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and done.stdout == "", done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "KVIT_SECRET_KEY" in lines[0] and "shell" in lines[0], lines


def test_env_example_ships_and_copying_it_unchanged_starts_nothing() -> None:
    example = REPO / ".env.example"
    values = dotenv_values(example)
    for name in ("KVIT_SECRET_KEY", "KVIT_ACQUIRER_SECRET"):
        assert values.get(name), f"{name} missing from .env.example"
        field = name.removeprefix("KVIT_").lower()
        with pytest.raises(ConfigurationError):
            check_secrets(ApiSettings(_env_file=None, **{field: values[name]}))  # type: ignore[call-arg]


def secrets_in(text: str) -> dict[str, str]:
    """The secret lines of `text` as a `.env` reader sees them."""
    pairs = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k: v for k, v in pairs.items() if k in ("KVIT_SECRET_KEY", "KVIT_ACQUIRER_SECRET")}


def assert_usable(tmp_path: Path, written: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Appended to a `.env`, the lines give both secrets, and the checks accept them."""
    (tmp_path / ".env").write_text(written)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("KVIT_")]:
        monkeypatch.delenv(name)
    settings = ApiSettings(database_url="postgresql://kvit@db.invalid/kvit")
    assert settings.secret_key and settings.acquirer_secret
    assert settings.secret_key != settings.acquirer_secret
    check_secrets(settings)


def test_kvit_secrets_writes_real_secrets_for_a_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_without_kvit(tmp_path)
    runs = [
        subprocess.run([KVIT, "secrets"], env=env, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert set(secrets_in(done.stdout)) == {"KVIT_SECRET_KEY", "KVIT_ACQUIRER_SECRET"}
        assert all(re.fullmatch(r"KVIT_\w+=[\w-]{40,}", line) for line in done.stdout.split())
    assert secrets_in(runs[0].stdout) != secrets_in(runs[1].stdout)  # fresh every time
    assert_usable(tmp_path, runs[0].stdout, monkeypatch)


def test_the_one_line_command_in_env_example_writes_real_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a host without `kvit` (docker compose): the python3 line `.env.example` gives."""
    lines = (REPO / ".env.example").read_text().splitlines()
    command = next(line.lstrip("# ").strip() for line in lines if "python3 -c" in line)
    command = command.removesuffix(">> .env").strip()
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True
    )
    assert_usable(tmp_path, done.stdout, monkeypatch)


def test_no_file_suggests_shell_inside_a_dotenv_line() -> None:
    """The compose file's comment suggested `KVIT_SECRET_KEY=$(…)` lines for its `.env` (a
    shell's `export KVIT_…=$(…)` is fine: a shell runs it)."""
    dotenv_line = re.compile(r"^KVIT_\w+=(\$\(|\$\{|`)")
    for name in ("docker-compose.yml", ".env.example", "README.md"):
        for line in (REPO / name).read_text().splitlines():
            assert not dotenv_line.match(line.lstrip("# ").strip()), (name, line)
