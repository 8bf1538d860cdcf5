"""The cabinet's two cookies: the session, and the sign-in in flight.

Both are HttpOnly (no script reads them) and SameSite=Lax: sent when the provider sends the
browser back to /auth/callback (a top-level GET from another site, which Strict would strip,
leaving the first page after sign-in signed out), never with another site's POST or fetch.
They are Secure, with the `__Host-` prefix (this host only, path /, never over plain HTTP),
unless Kvit's public URL is plain http on a loopback address, as in development and the tests:
a browser drops a Secure cookie set over http://127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.responses import Response

from api.oidc.sessions import LOGIN_SECONDS, SESSION_SECONDS


def loopback_http(base_url: str) -> bool:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Cookies:
    secure: bool

    @classmethod
    def for_url(cls, base_url: str) -> Cookies:
        return cls(secure=not loopback_http(base_url))

    @property
    def session(self) -> str:
        return "__Host-kvit-session" if self.secure else "kvit-session"

    @property
    def login(self) -> str:
        return "__Host-kvit-login" if self.secure else "kvit-login"

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def set_session(self, response: Response, session_id: str) -> None:
        self.set(response, self.session, session_id, SESSION_SECONDS)

    def set_login(self, response: Response, state: str) -> None:
        self.set(response, self.login, state, LOGIN_SECONDS)

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")
