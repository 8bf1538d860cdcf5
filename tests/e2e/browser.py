"""Fixtures for the cabinet's browser tests: a real `kvit serve` on embedded SQLite filled by
`kvit demo`, and headless Debian chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import Role, issue_token
from tests.processes import KVIT, free_port, kvit_serve

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KVIT_E2E_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SECRET = "cabinet-e2e-secret-key-that-is-long-enough-for-hs256"
# The machine's network is closed, and a test must not wait for it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MONTHS = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


def months_ago(back: int) -> tuple[str, str]:
    """A billing period `back` months before today's (`kvit demo` bills this month and the
    months before it), and how the cabinet names it: ("2026-04", "апрель 2026")."""
    today = date.today()
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12}-{index % 12 + 1:02d}", f"{MONTHS[index % 12]} {index // 12}"


@dataclass
class Server:
    base: str
    logs: Path

    def token(self, payer: str) -> str:
        return issue_token(SECRET, Role.RESIDENT, payer, 3600)

    def api(self, payer: str, path: str, **params: Any) -> Any:
        response = httpx.get(
            self.base + path,
            params=params,
            headers={"Authorization": f"Bearer {self.token(payer)}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def payments(self, payer: str) -> list[dict[str, Any]]:
        return list(self.api(payer, "/v1/me/payments", limit=200)["items"])

    def wallet_balance(self, payer: str) -> int:
        return int(self.api(payer, "/v1/me/wallets")["items"][0]["balance"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("cabinet")) as started:
        yield started


@contextmanager
def running_server(home: Path, port: int | None = None, **settings: str) -> Iterator[Server]:
    """`kvit demo`, then `kvit serve` on `port` (default: a free one), both on embedded SQLite
    in `home`, with these KVIT_ `settings` on top."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env |= {
        "KVIT_DATA_DIR": str(home / "var"),
        "KVIT_SECRET_KEY": SECRET,
        "KVIT_PUBLIC_URL": base,
        **settings,
    }
    subprocess.run([KVIT, "demo"], env=env, cwd=home, check=True, capture_output=True, timeout=120)
    logs = home / "serve.log"
    with kvit_serve(env, port=port, log=logs, cwd=home):
        yield Server(base, logs)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh tab at desktop width. CSP is bypassed only so that axe-core can be injected."""
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU", bypass_csp=True)
    context.set_default_timeout(15_000)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Any, server: Server, payer: str) -> None:
    page.goto(server.base + "/")
    page.locator(f'button[data-payer="{payer}"]').click()
    page.get_by_role("heading", level=1, name="Лицевые счета").wait_for()


def sign_in_new(page: Any, server: Server, payer: str) -> None:
    page.goto(server.base + "/")
    page.get_by_label("Идентификатор жителя").fill(payer)
    page.get_by_label("Идентификатор жителя").press("Enter")
    page.get_by_role("heading", level=1, name="Лицевые счета").wait_for()


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` at the repository root (see .ci/run)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
        )
    )
