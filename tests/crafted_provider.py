"""An OpenID Provider whose tokens the test crafts, served over real HTTP on 127.0.0.1: a
discovery document, a JWKS and a token endpoint. For what a real provider (tests/e2e's
oidc-provider) cannot be made to do wrong: an ID token for another audience, from another
issuer, expired, with another sign-in's nonce, signed by a stranger's key."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "kvit-test"
CLIENT_SECRET = "kvit-test-client-secret"


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": kid, "use": "sig", "alg": "RS256"})


FIRST_KEY = rsa_key("first")  # made once: a 2048-bit key takes a while


@dataclass
class CraftedProvider:
    issuer: str = ""
    keys: list[RSAKey] = field(default_factory=lambda: [FIRST_KEY])
    id_token: str | None = None
    """What the token endpoint answers next."""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    jwks_fetches: int = 0

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None, **header: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key)

    def claims(self, sent_nonce: str, **changes: Any) -> dict[str, Any]:
        """A good ID token's claims for the sign-in that sent `sent_nonce`, with `changes`
        (None removes a claim)."""
        now = int(time.time())
        found = {
            "iss": self.issuer,
            "sub": "resident-1",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": sent_nonce,
        }
        found.update(changes)
        return {k: v for k, v in found.items() if v is not None}

    def document(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "end_session_endpoint": self.issuer + "/logout",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        return {"keys": [dict(key.as_dict(private=False)) for key in self.keys]}


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@contextmanager
def crafted_provider() -> Iterator[CraftedProvider]:
    provider = CraftedProvider()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self.answer(200, provider.document())
            elif self.path == "/jwks":
                self.answer(200, provider.jwks())
            else:
                self.answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            form["authorization"] = self.headers.get("Authorization", "")
            provider.token_requests.append(form)
            if self.path != "/token" or provider.id_token is None:
                self.answer(400, {"error": "invalid_grant"})
                return
            self.answer(200, {"id_token": provider.id_token, "token_type": "Bearer"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
