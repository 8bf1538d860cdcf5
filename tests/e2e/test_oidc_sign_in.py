"""Signing in through a real OpenID Provider: oidc-provider from npm, run by node, its own login
and consent pages driven in headless Debian chromium, against a real `kvit serve` (embedded
SQLite, filled by `kvit demo`) configured with KVIT_OIDC_*.

What oidc-provider cannot be made to do wrong (an ID token for another audience, from another
issuer, expired, or with a replayed nonce) is covered with tokens crafted by the tests' own keys
in tests/unit/test_oidc_tokens.py and tests/api/test_oidc_callback.py. Here, with the real
provider: the whole path, a tampered `state`, a callback replayed or carried to another browser,
a rotated signing key, sign-out at both ends, a second resident, and an app's access token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest

from tests.e2e.browser import DESKTOP, Server, running_server
from tests.e2e.oidc_provider import (
    APP_CLIENT_ID,
    APP_REDIRECT,
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    log_in,
    running_provider,
)
from tests.processes import free_port

UNLINKED = ("7700010007", "0100000005")  # api/demo.py: an account nobody has linked


@dataclass
class World:
    kvit: Server
    provider: Provider

    @property
    def api(self) -> str:
        return self.kvit.base + "/v1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("oidc")
    kvit_port, provider_port = free_port(), free_port()
    kvit_base = f"http://127.0.0.1:{kvit_port}"
    with running_provider(provider_port, kvit_base, home) as provider:
        settings = {
            "KVIT_OIDC_ISSUER": provider.issuer,
            "KVIT_OIDC_CLIENT_ID": CLIENT_ID,
            "KVIT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "KVIT_OIDC_SCOPES": "openid roles",
            "KVIT_OIDC_ROLES_CLAIM": "roles",
            "KVIT_OIDC_AUDIENCE": kvit_base + "/v1",
        }
        with running_server(home, kvit_port, **settings) as kvit:
            yield World(kvit, provider)


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """Fresh browser contexts (each its own cookie jar), closed after the test; the page may
    reach nothing but this machine (oidc-provider's pages import a web font)."""
    opened: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
        context.set_default_timeout(15_000)
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).hostname == "127.0.0.1"
                else route.abort()
            ),
        )
        opened.append(context)
        return context

    yield make
    for context in opened:
        for tab in context.pages:
            tab.close()
        context.close()


def open_tab(context: Any) -> tuple[Any, list[str]]:
    """A tab, and every URL it navigated to (redirects included)."""
    tab = context.new_page()
    visited: list[str] = []
    tab.on(
        "request",
        lambda request: visited.append(request.url) if request.is_navigation_request() else None,
    )
    return tab, visited


def sign_in(world: World, context: Any, login: str) -> Any:
    tab, _ = open_tab(context)
    tab.goto(world.kvit.base + "/")
    tab.get_by_role("link", name="Войти").click()
    log_in(tab, login)
    tab.get_by_role("heading", level=1, name="Лицевые счета").wait_for()
    return tab


def session_of(tab: Any) -> dict[str, Any]:
    return dict(tab.evaluate("fetch('/auth/session').then(r => r.json())"))


def session_cookie(context: Any) -> dict[str, Any]:
    return next(c for c in context.cookies() if c["name"] == "kvit-session")


def test_resident_signs_in_through_the_provider_and_links_an_account(
    world: World, new_context: Any
) -> None:
    context = new_context()
    tab, visited = open_tab(context)
    tab.goto(world.kvit.base + "/")
    tab.get_by_role("link", name="Войти").click()
    assert tab.url.startswith(world.provider.issuer)  # the provider's own login page
    log_in(tab, "alice")
    tab.get_by_role("heading", level=1, name="Лицевые счета").wait_for()
    tab.get_by_text("Пока нет привязанных лицевых счетов").wait_for()

    cookie = session_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http on 127.0.0.1 only; __Host- and Secure elsewhere
    assert tab.evaluate("document.cookie") == ""  # nothing a script can read
    assert tab.evaluate("sessionStorage.length") == 0
    # No token in any address the browser went to: only the code, the state and the issuer.
    callback = next(url for url in visited if "/auth/callback" in url)
    assert set(parse_qs(urlsplit(callback).query)) <= {"code", "state", "iss"}
    assert not [url for url in visited if "token" in url.lower()]
    me = session_of(tab)
    assert me["signed_in"] and me["role"] == "resident" and "csrf_token" in me

    inn, number = UNLINKED
    tab.get_by_label("ИНН поставщика").fill(inn)
    tab.get_by_label("Номер лицевого счёта").fill(number)
    tab.get_by_role("button", name="Привязать").click()  # a write: sends the CSRF token
    tab.get_by_text(f"Лицевой счёт {number} привязан").wait_for()

    # The same write on the cookie alone, as another site's page would send it: refused.
    forged = tab.evaluate(
        """fetch('/v1/me/wallets', {method: 'POST', headers: {'Idempotency-Key': 'forged'}})
            .then(async r => [r.status, (await r.json()).code])"""
    )
    assert forged == [403, "csrf_failed"]


def test_a_second_resident_sees_nothing_of_the_first(world: World, new_context: Any) -> None:
    first = sign_in(world, new_context(), "carol")
    inn, number = "7700010014", "0200000005"  # the second demo supplier's unlinked account
    first.get_by_label("ИНН поставщика").fill(inn)
    first.get_by_label("Номер лицевого счёта").fill(number)
    first.get_by_role("button", name="Привязать").click()
    first.get_by_text(f"Лицевой счёт {number} привязан").wait_for()

    second = sign_in(world, new_context(), "dave")
    second.get_by_text("Пока нет привязанных лицевых счетов").wait_for()
    assert session_of(second)["payer_id"] != session_of(first)["payer_id"]
    seen = second.evaluate("fetch('/v1/me/accounts').then(r => r.json())")
    assert seen["items"] == []
    assert number not in second.locator("main").inner_text()


def held_callback(world: World, context: Any, tab: Any, login: str) -> str:
    """Sign in at the provider but keep its answer (the callback URL, with the code and the
    state) from reaching Kvit: the consent's POST is sent, and the redirects it answers are
    followed, by the test instead of the browser."""
    held: list[str] = []

    def hold(route: Any) -> None:
        if "prompt=consent" not in (route.request.post_data or ""):
            route.continue_()
            return
        location = route.fetch(max_redirects=0).headers["location"]
        while not location.startswith(world.kvit.base):
            answer = context.request.get(urljoin(world.provider.issuer, location), max_redirects=0)
            location = answer.headers["location"]
        held.append(location)
        route.fulfill(status=200, body="held", content_type="text/plain")

    tab.route(world.provider.issuer + "/interaction/**", hold)
    tab.goto(world.kvit.base + "/")
    tab.get_by_role("link", name="Войти").click()
    log_in(tab, login)
    tab.get_by_text("held").wait_for()
    tab.unroute(world.provider.issuer + "/interaction/**")
    return held[0]


def test_a_tampered_replayed_or_carried_over_callback_signs_no_one_in(
    world: World, new_context: Any
) -> None:
    context = new_context()
    tab, _ = open_tab(context)
    genuine = held_callback(world, context, tab, "erin")
    query = parse_qs(urlsplit(genuine).query)

    tampered = {k: v[0] for k, v in query.items()} | {"state": secrets.token_urlsafe(32)}
    tab.goto(f"{world.kvit.base}/auth/callback?{urlencode(tampered)}")
    tab.get_by_text("Войти не удалось").wait_for()
    assert not session_of(tab)["signed_in"]

    # Another browser that did not start this sign-in (login CSRF): refused, the code unspent.
    other, _ = open_tab(new_context())
    other.goto(genuine)
    other.get_by_text("Войти не удалось").wait_for()
    assert not session_of(other)["signed_in"]

    tab.goto(genuine)  # the browser that asked: signed in
    tab.get_by_role("heading", level=1, name="Лицевые счета").wait_for()
    assert session_of(tab)["signed_in"]

    # Replayed whole, with the sign-in cookie copied too: the state, and its nonce, are spent.
    replayer = new_context()
    state = query["state"][0]
    replayer.add_cookies([{"name": "kvit-login", "value": state, "url": world.kvit.base}])
    again, _ = open_tab(replayer)
    again.goto(genuine)
    again.get_by_text("Войти не удалось").wait_for()
    assert not session_of(again)["signed_in"]
    assert "the state is unknown, used already or too old" in world.kvit.logs.read_text()


def test_sign_out_ends_the_session_here_and_at_the_provider(world: World, new_context: Any) -> None:
    context = new_context()
    tab = sign_in(world, context, "frank")
    old = session_cookie(context)["value"]
    tab.get_by_role("button", name="Выйти").click()
    tab.get_by_role("button", name="Yes, sign me out").click()  # the provider's own page
    tab.get_by_role("link", name="Войти").wait_for()
    assert tab.url.startswith(world.kvit.base)
    assert not session_of(tab)["signed_in"]
    # The old cookie is dead on the server, not only dropped by this browser.
    answer = httpx.get(world.api + "/me/accounts", cookies={"kvit-session": old}, timeout=10)
    assert answer.status_code == 401
    # And the provider asks who you are again.
    tab.get_by_role("link", name="Войти").click()
    tab.locator('input[name="login"]').wait_for()


def app_access_token(world: World, context: Any, login: str) -> str:
    """What an app does: the provider's login in a browser, the code redeemed by the app
    (a public client with PKCE), a JWT access token for Kvit's API."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": APP_CLIENT_ID,
        "redirect_uri": APP_REDIRECT,
        "scope": "openid api",
        "state": "app-state",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    tab, _ = open_tab(context)
    codes: list[str] = []

    def caught(route: Any) -> None:
        codes.extend(parse_qs(urlsplit(route.request.url).query)["code"])
        route.fulfill(status=200, body="app", content_type="text/plain")

    tab.route(APP_REDIRECT + "?**", caught)
    tab.goto(f"{world.provider.issuer}/auth?{urlencode(query)}")
    log_in(tab, login)
    tab.wait_for_url(APP_REDIRECT + "?**")
    answer = httpx.post(
        world.provider.issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": codes[0],
            "redirect_uri": APP_REDIRECT,
            "client_id": APP_CLIENT_ID,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_an_app_sends_the_providers_access_token_and_is_the_same_payer(
    world: World, new_context: Any
) -> None:
    cabinet = sign_in(world, new_context(), "grace")
    token = app_access_token(world, new_context(), "grace")
    bearer = {"Authorization": f"Bearer {token}", "Idempotency-Key": "grace-wallet"}
    opened = httpx.post(world.api + "/me/wallets", headers=bearer, timeout=10)
    assert opened.status_code == 201, opened.text
    assert opened.json()["payer_id"] == session_of(cabinet)["payer_id"]
    # A resident's token is a resident's: the operators' reads are not for it.
    suppliers = world.api + "/suppliers?inn=7700010007"
    assert httpx.get(suppliers, headers=bearer, timeout=10).status_code == 403

    operator = app_access_token(world, new_context(), "operator-olga")  # roles: ["operator"]
    answer = httpx.get(suppliers, headers={"Authorization": f"Bearer {operator}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"][0]["inn"] == "7700010007"


def test_a_rotated_signing_key_is_followed(world: World, new_context: Any) -> None:
    """Last in the module: the provider restarts with a new first key (the old one still
    published), so Kvit meets a `kid` it has not fetched and reads the JWKS again."""
    sign_in(world, new_context(), "heidi")  # Kvit holds the first key set now
    world.provider.rotate()
    tab = sign_in(world, new_context(), "heidi")  # its ID token is signed with the new key
    assert session_of(tab)["signed_in"]
    token = app_access_token(world, new_context(), "heidi")
    assert kid_of(token) == world.provider.signing_kid
    mine = httpx.get(
        world.api + "/me/accounts", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert mine.status_code == 200, mine.text
