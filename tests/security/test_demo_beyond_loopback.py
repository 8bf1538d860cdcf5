"""A server others can reach must not offer the demo: demo sign-in mints a token for any payer
and the sandbox acquirer approves any card. `kvit serve` on a host beyond loopback (0.0.0.0,
as the image runs it) turns both off unless they are asked for by name, and says so; so does
the image's own command. The real `kvit` executable on embedded SQLite, as a new user runs it.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli.exposure import is_loopback
from tests.processes import kvit_serve

REPO = Path(__file__).resolve().parents[2]
SECRET = "exposure-test-secret-key-that-is-long-enough-0123456789"
OFF_BEYOND_LOOPBACK = "demo sign-in and the sandbox acquirer are off"
CARDS_OFF = "card payments are off"


@dataclass
class Served:
    base: str
    log: Path

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = httpx.get(self.base + "/cabinet/config.json", timeout=5).json()
        return config

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if needle in line]


@contextmanager
def serving(home: Path, argv: list[str], **env: str) -> Iterator[Served]:
    """`argv` (a `kvit serve …` command) with `--port` added, on embedded SQLite in `home`;
    reached on 127.0.0.1 whatever host it binds."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    clean |= {"KVIT_DATA_DIR": str(home / "var"), "KVIT_SECRET_KEY": SECRET, **env}
    log = home / "serve.log"
    assert argv[:2] == ["kvit", "serve"], argv
    with kvit_serve(clean, *argv[2:], log=log, cwd=home) as base:
        yield Served(base, log)


def demo_sign_in(served: Served) -> httpx.Response:
    return httpx.post(
        served.base + "/cabinet/demo/sign-in", json={"payer_id": "resident-1-1"}, timeout=5
    )


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("kvit.example.org", False),  # a name is judged by what it is, not by where it resolves
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_on_all_interfaces_turns_demo_sign_in_and_the_sandbox_off(tmp_path: Path) -> None:
    with serving(tmp_path, ["kvit", "serve", "--host", "0.0.0.0"]) as served:
        config = served.config()
        assert config["demo"] is False
        assert config["sandbox_acquirer"] is False
        assert config["card_payments"] is False
        assert demo_sign_in(served).status_code == 403
        sandbox = httpx.get(served.base + f"/sandbox/checkout/{'0' * 32}?amount=1", timeout=5)
        assert sandbox.status_code == 404
        [said] = served.lines(OFF_BEYOND_LOOPBACK)
        assert "0.0.0.0" in said and "KVIT_CABINET_DEMO_SIGN_IN=true" in said
        assert len(served.lines(CARDS_OFF)) == 1


def test_explicit_settings_turn_them_on_beyond_loopback_with_a_warning(tmp_path: Path) -> None:
    asked = {"KVIT_CABINET_DEMO_SIGN_IN": "true", "KVIT_SANDBOX_ACQUIRER": "true"}
    with serving(tmp_path, ["kvit", "serve", "--host", "0.0.0.0"], **asked) as served:
        config = served.config()
        assert config["demo"] is True and config["sandbox_acquirer"] is True
        assert config["card_payments"] is True
        assert demo_sign_in(served).status_code == 200
        assert served.lines(OFF_BEYOND_LOOPBACK) == []
        assert served.lines(CARDS_OFF) == []
        assert len(served.lines("anyone who reaches 0.0.0.0")) == 2  # one warning for each


def test_on_loopback_the_embedded_demo_stays_as_it_was(tmp_path: Path) -> None:
    with serving(tmp_path, ["kvit", "serve"]) as served:
        config = served.config()
        assert config["demo"] is True and config["card_payments"] is True
        assert served.lines(OFF_BEYOND_LOOPBACK) == [] and served.lines(CARDS_OFF) == []


def image_command() -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's CMD (exec form) and the environment its ENV lines set."""
    command: list[str] = []
    env: dict[str, str] = {}
    for line in (REPO / "Dockerfile").read_text().splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "CMD":
            command = json.loads(rest)
        elif instruction.upper() == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return command, env


def test_the_image_does_not_serve_the_demo_to_the_world(tmp_path: Path) -> None:
    command, env = image_command()
    assert command[:2] == ["kvit", "serve"], command
    assert not any(is_loopback(arg) for arg in command), "the image must be reachable"
    env.pop("KVIT_DATA_DIR", None)  # the test's own data directory instead of the image's
    with serving(tmp_path, command, **env) as served:
        config = served.config()
        assert config["demo"] is False and config["sandbox_acquirer"] is False
        assert demo_sign_in(served).status_code == 403
