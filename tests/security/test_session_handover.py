"""Login CSRF through the hand-over `/#token=…`: a link such as `/?from=mail#token=<attacker's
token>` must not sign the browser in as someone else behind the resident's back (they would
then link their own account into the attacker's payer). The page shows who would sign in, and
who is signed in now, and asks; the token leaves the address bar and the history either way.

In a real browser (headless Debian chromium via Playwright) against a real `kvit serve`
filled by `kvit demo` (the fixtures of tests/e2e/browser.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.e2e import browser as fixtures
from tests.e2e.browser import Server, serious_violations, sign_in

# The cabinet's browser fixtures (tests/e2e/conftest.py does the same for its folder).
browser, page, server = fixtures.browser, fixtures.page, fixtures.server

ASKS = "Подтвердите вход"
SIGN_IN = "Вход в личный кабинет"


def session_payer(page: Any) -> str | None:
    """Whom the tab's stored token names, or None when the tab has no session."""
    token = page.evaluate("sessionStorage.getItem('kvit.token')")
    if token is None:
        return None
    claims = token.split(".")[1]
    payer: str = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"]
    return payer


def hand_over(page: Any, server: Server, token: str) -> None:
    page.goto(f"{server.base}/?from=mail#token={token}")
    page.get_by_role("heading", level=1, name=ASKS).wait_for()
    assert "token" not in page.url


def no_entry_keeps_a_token(page: Any) -> None:
    for _ in range(int(page.evaluate("history.length"))):
        assert "token=" not in page.url, page.url
        if page.go_back() is None and page.evaluate("history.length") <= 1:
            break


def test_a_hand_over_never_replaces_a_session_without_consent(page: Any, server: Server) -> None:
    sign_in(page, server, "resident-1-1")
    hand_over(page, server, server.token("resident-2-1"))
    asked = page.locator("main").inner_text()
    assert "resident-2-1" in asked and "resident-1-1" in asked  # who would sign in, who is in
    assert session_payer(page) == "resident-1-1"  # nothing changed while it asks

    page.get_by_role("button", name="Остаться resident-1-1").click()
    page.locator('section[data-account="0100000000"]').wait_for()
    assert session_payer(page) == "resident-1-1"
    page.reload()  # the token is gone for good: no question again
    page.locator('section[data-account="0100000000"]').wait_for()
    assert page.get_by_role("heading", level=1, name=ASKS).count() == 0

    # The page is at /?from=mail#/accounts now: this link changes only the fragment.
    hand_over(page, server, server.token("resident-2-1"))
    page.get_by_role("button", name="Войти как resident-2-1").click()
    page.locator('section[data-account="0200000000"]').wait_for()
    assert session_payer(page) == "resident-2-1"
    assert page.locator('section[data-account="0100000000"]').count() == 0
    no_entry_keeps_a_token(page)


def test_a_hand_over_into_a_tab_without_a_session_asks_too(page: Any, server: Server) -> None:
    """No session to lose, but the same attack: signed in as the attacker unawares, the
    resident links their own account into the attacker's payer."""
    hand_over(page, server, server.token("resident-2-1"))
    assert "resident-2-1" in page.locator("main").inner_text()
    assert session_payer(page) is None
    assert serious_violations(page) == []
    page.get_by_role("button", name="Не входить").click()
    page.get_by_role("heading", level=1, name=SIGN_IN).wait_for()
    assert session_payer(page) is None

    hand_over(page, server, server.token("resident-2-1"))
    page.get_by_role("button", name="Войти как resident-2-1").click()
    page.locator('section[data-account="0200000000"]').wait_for()
    assert session_payer(page) == "resident-2-1"
    no_entry_keeps_a_token(page)


def test_a_forged_hand_over_leaves_the_session_as_it_was(page: Any, server: Server) -> None:
    sign_in(page, server, "resident-1-1")
    hand_over(page, server, server.token("resident-2-1")[:-4] + "AAAA")  # a bad signature
    page.get_by_role("button", name="Войти как resident-2-1").click()
    page.get_by_text("Токен недействителен или просрочен").wait_for()
    assert session_payer(page) == "resident-1-1"
    page.get_by_role("button", name="Остаться resident-1-1").click()
    page.locator('section[data-account="0100000000"]').wait_for()


def test_a_hand_over_of_a_token_for_the_same_resident_asks_nothing(
    page: Any, server: Server
) -> None:
    """A fresh token for whoever is signed in changes no one's identity."""
    sign_in(page, server, "resident-1-1")
    page.goto(f"{server.base}/?from=mail#token={server.token('resident-1-1')}")
    page.locator('section[data-account="0100000000"]').wait_for()
    assert "token" not in page.url
    assert page.get_by_role("heading", level=1, name=ASKS).count() == 0
    assert session_payer(page) == "resident-1-1"
