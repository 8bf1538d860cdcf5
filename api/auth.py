"""Bearer tokens carrying a role, signed with KVIT_SECRET_KEY (HS256 JWT via PyJWT).

Roles: `resident` (with the payer id from the identity provider), `operator`, `auditor`.
A resident token for a payer never seen before is valid: payers are not registered first.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jwt
from fastapi import Request

from api.problems import ForbiddenProblem, UnauthorizedProblem
from api.settings import ApiSettings

ALGORITHM = "HS256"
DEFAULT_LIFETIME_SECONDS = 30 * 24 * 3600
SECRET_FILE = "secret_key"


class Role(StrEnum):
    RESIDENT = "resident"
    OPERATOR = "operator"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Caller:
    role: Role
    payer_id: str | None = None

    @property
    def scope(self) -> str:
        """Idempotency keys are scoped to the caller."""
        return f"payer:{self.payer_id}" if self.role == Role.RESIDENT else self.role.value


def secret_key(settings: ApiSettings) -> str:
    """The configured secret; in embedded mode one is generated once and kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_urlsafe(48)
        try:
            with path.open("x") as file:  # "x": two processes starting together keep one secret
                file.write(candidate)
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip()


def issue_token(
    secret: str, role: Role, payer_id: str | None = None, lifetime: int = DEFAULT_LIFETIME_SECONDS
) -> str:
    if role == Role.RESIDENT and not payer_id:
        raise ValueError("a resident token needs a payer id")
    claims: dict[str, object] = {"role": role.value, "exp": int(time.time()) + lifetime}
    if payer_id:
        claims["sub"] = payer_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def authenticate(request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedProblem("send 'Authorization: Bearer <token>'")
    try:
        claims = jwt.decode(token, request.app.state.secret_key, algorithms=[ALGORITHM])
        role = Role(claims["role"])
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise UnauthorizedProblem("the token is invalid or expired") from None
    payer_id = claims.get("sub")
    if role == Role.RESIDENT and not payer_id:
        raise UnauthorizedProblem("a resident token must name its payer")
    return Caller(role=role, payer_id=payer_id)


def require(caller: Caller, *roles: Role) -> Caller:
    if caller.role not in roles:
        raise ForbiddenProblem(
            f"this needs the role {' or '.join(r.value for r in roles)}", role=caller.role.value
        )
    return caller
