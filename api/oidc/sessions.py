"""The cabinet's server-side sessions, the sign-ins in flight, and who has signed in.

Kept in the read store, so every worker sees the same: `kvit migrate` creates the tables (and
embedded mode at start). The browser holds only a random session id in an HttpOnly cookie; the
table keeps its SHA-256, so a copy of the table signs no one in. Signing out deletes the row,
so a copied cookie is dead from then on (a signed cookie would live until it expired).

A sign-in in flight (`state`, `nonce`, PKCE verifier) is taken exactly once, by its `state`,
within `LOGIN_SECONDS`: a replayed callback finds nothing, and with it goes its nonce.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from api.auth import Role
from api.oidc.base import Identity
from storage.sql import Store, Tx

LOGINS, SESSIONS, IDENTITIES = "oidc_login", "web_session", "oidc_identity"
LOGIN_SECONDS = 600
PENDING_LOGINS = 10_000
"""Sign-ins in flight at once, from everyone: /auth/login needs no credentials, so without a
bound anyone could fill the table."""
SESSION_SECONDS = 8 * 3600
"""A session ends this long after sign-in, whatever happens in it."""


def migrate(store: Store) -> None:
    real = "DOUBLE PRECISION" if store.postgres else "REAL"
    with store.writing() as tx:
        tx.create_schema()
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(LOGINS)} (state TEXT PRIMARY KEY,"
            f" nonce TEXT NOT NULL, verifier TEXT NOT NULL, started {real} NOT NULL)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(SESSIONS)} (id_hash TEXT PRIMARY KEY,"
            " payer_id TEXT NOT NULL, role TEXT NOT NULL, csrf TEXT NOT NULL,"
            f" expires {real} NOT NULL)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(IDENTITIES)} (issuer TEXT NOT NULL,"
            f" subject TEXT NOT NULL, payer_id TEXT NOT NULL, first_seen {real} NOT NULL,"
            " PRIMARY KEY (issuer, subject))"
        )


def hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class WebSession:
    payer_id: str
    role: Role
    csrf: str
    """Sent back by the page in `X-CSRF-Token` on every call that changes something."""


class TooManySignInsError(Exception):
    """`PENDING_LOGINS` sign-ins are in flight already."""


@dataclass(frozen=True)
class Sessions:
    store: Store
    pending_limit: int = PENDING_LOGINS

    def begin_login(self) -> PendingLogin:
        login = PendingLogin(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        )
        now = time.time()
        with self.store.writing() as tx:
            self._prune(tx, now)
            pending = tx.execute(f"SELECT COUNT(*) FROM {self.store.name(LOGINS)}")[0][0]
            if int(pending) >= self.pending_limit:
                raise TooManySignInsError(f"{pending} sign-ins are in flight")
            tx.execute(
                f"INSERT INTO {self.store.name(LOGINS)} (state, nonce, verifier, started)"
                " VALUES (%s, %s, %s, %s)",
                [login.state, login.nonce, login.verifier, now],
            )
        return login

    def take_login(self, state: str) -> PendingLogin | None:
        """The sign-in started with `state`, once; None if unknown, taken or too old."""
        with self.store.writing() as tx:
            rows = tx.execute(
                f"DELETE FROM {self.store.name(LOGINS)} WHERE state = %s"
                " RETURNING nonce, verifier, started",
                [state],
            )
        if not rows or float(rows[0][2]) < time.time() - LOGIN_SECONDS:
            return None
        return PendingLogin(state, str(rows[0][0]), str(rows[0][1]))

    def open(self, identity: Identity) -> tuple[str, WebSession]:
        """A new session for `identity` (recorded on its first sign-in): its cookie value."""
        session_id = secrets.token_urlsafe(32)
        session = WebSession(identity.payer_id, identity.role, secrets.token_urlsafe(32))
        now = time.time()
        with self.store.writing() as tx:
            tx.execute(
                f"INSERT INTO {self.store.name(IDENTITIES)}"
                " (issuer, subject, payer_id, first_seen) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (issuer, subject) DO NOTHING",
                [identity.issuer, identity.subject, identity.payer_id, now],
            )
            tx.execute(
                f"INSERT INTO {self.store.name(SESSIONS)}"
                " (id_hash, payer_id, role, csrf, expires) VALUES (%s, %s, %s, %s, %s)",
                [
                    hashed(session_id),
                    session.payer_id,
                    session.role.value,
                    session.csrf,
                    now + SESSION_SECONDS,
                ],
            )
        return session_id, session

    def find(self, session_id: str) -> WebSession | None:
        with self.store.read() as tx:
            rows = tx.execute(
                f"SELECT payer_id, role, csrf FROM {self.store.name(SESSIONS)}"
                " WHERE id_hash = %s AND expires > %s",
                [hashed(session_id), time.time()],
            )
        if not rows:
            return None
        payer_id, role, csrf = rows[0]
        return WebSession(str(payer_id), Role(role), str(csrf))

    def close(self, session_id: str) -> None:
        with self.store.writing() as tx:
            tx.execute(
                f"DELETE FROM {self.store.name(SESSIONS)} WHERE id_hash = %s",
                [hashed(session_id)],
            )

    def _prune(self, tx: Tx, now: float) -> None:
        """Expired sessions and abandoned sign-ins go as new sign-ins begin."""
        tx.execute(f"DELETE FROM {self.store.name(SESSIONS)} WHERE expires <= %s", [now])
        tx.execute(
            f"DELETE FROM {self.store.name(LOGINS)} WHERE started < %s", [now - LOGIN_SECONDS]
        )
