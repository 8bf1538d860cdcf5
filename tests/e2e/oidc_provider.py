"""A real OpenID Provider for the sign-in tests: panva's `oidc-provider` from npm (OpenID
Certified), run by Debian's node with tests/e2e/oidc/provider.mjs, its development login and
consent pages driven by Playwright. Restarting it with a new first key rotates its signing key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from tests.processes import stop_all, wait_ready

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "e2e" / "oidc" / "provider.mjs"
MODULE = ROOT / "node_modules" / "oidc-provider" / "package.json"
CLIENT_ID = "kvit"
CLIENT_SECRET = "kvit-e2e-client-secret-that-is-long-enough-for-sure"
APP_CLIENT_ID = "kvit-app"
APP_REDIRECT = "http://127.0.0.1/app-callback"


def signing_key() -> dict[str, Any]:
    key = RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"})
    key.ensure_kid()
    return dict(key.as_dict(private=True))


@dataclass
class Provider:
    """oidc-provider on `port`, registered for the Kvit server at `kvit_base`."""

    port: int
    kvit_base: str
    home: Path
    keys: list[dict[str, Any]] = field(default_factory=lambda: [signing_key()])
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def signing_kid(self) -> str:
        return str(self.keys[0]["kid"])

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not MODULE.exists():
            pytest.fail("node or oidc-provider is missing: run `npm ci` (see .ci/run)")
        keys = self.home / "op-keys.json"
        keys.write_text(json.dumps({"keys": self.keys}))
        env = os.environ | {
            "OP_PORT": str(self.port),
            "OP_KEYS": str(keys),
            "KVIT_BASE": self.kvit_base,
            "KVIT_SECRET": CLIENT_SECRET,
        }
        log = (self.home / "op.log").open("ab")
        self.process = subprocess.Popen([node, str(CONFIG)], env=env, stdout=log, stderr=log)
        discovery = "/.well-known/openid-configuration"
        wait_ready(self.issuer, 20, path=discovery, watch=[self.process], said=self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop_all(self.process)
            self.process = None

    def rotate(self) -> None:
        """A new signing key first; the old one stays published, as a provider rotates."""
        self.stop()
        self.keys = [signing_key(), *self.keys]
        self.start()

    def log(self) -> str:
        return (self.home / "op.log").read_text(errors="replace")


@contextmanager
def running_provider(port: int, kvit_base: str, home: Path) -> Iterator[Provider]:
    provider = Provider(port, kvit_base, home)
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def log_in(page: Any, login: str) -> None:
    """Through oidc-provider's development pages: its login form, then its consent."""
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    page.locator('button[type="submit"]').click()
    consent = page.locator('button[type="submit"]', has_text="Continue")
    consent.wait_for()
    consent.click()
