"""Bearer tokens carrying a role, signed with KVIT_SECRET_KEY (HS256 JWT via PyJWT).

Roles: `resident` (with the payer id from the identity provider), `operator` (unscoped: the
administrator), `auditor`, and the scoped operators: `bank`, whose token names its БИК (claim
`bik`), and `supplier`, whose token names its ИНН (claim `inn`); api/operator_scopes.py keeps
them to that bank or supplier. A resident token for a payer never seen before is valid: payers
are not registered first.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jwt
from starlette.requests import HTTPConnection

from api.problems import ForbiddenProblem, UnauthorizedProblem
from api.settings import ApiSettings
from ledger.domain.identifiers import parse_bank_bik, parse_inn
from ledger.domain.text import PAYER_ID
from ledger.errors import InvalidIdentifierError, InvalidTextError
from ledger.private_files import write_new_secret

ALGORITHM = "HS256"
DEFAULT_LIFETIME_SECONDS = 30 * 24 * 3600
SECRET_FILE = "secret_key"
ACQUIRER_SECRET_FILE = "acquirer_secret"


class Role(StrEnum):
    RESIDENT = "resident"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    BANK = "bank"
    SUPPLIER = "supplier"


# The claim a scoped role's token must carry, its name in messages, and its check.
SCOPE_CLAIMS: dict[Role, tuple[str, str, Callable[[str], str]]] = {
    Role.BANK: ("bik", "БИК", parse_bank_bik),
    Role.SUPPLIER: ("inn", "ИНН", parse_inn),
}


@dataclass(frozen=True)
class Caller:
    role: Role
    payer_id: str | None = None
    bank_bik: str | None = None
    supplier_inn: str | None = None

    @property
    def scope(self) -> str:
        """Idempotency keys are scoped to the caller: each bank and each supplier has its own
        key space, so one cannot replay (and so read) another's result, nor block its key."""
        if self.role == Role.RESIDENT:
            return f"payer:{self.payer_id}"
        if self.role == Role.BANK:
            return f"bank:{self.bank_bik}"
        if self.role == Role.SUPPLIER:
            return f"supplier:{self.supplier_inn}"
        return self.role.value


def scope_claims(role: Role, claims: Mapping[str, object]) -> dict[str, str]:
    """The БИК or ИНН a token of `role` names: exactly the one its role needs, well-formed and
    canonical. Any other role names neither: an operator token with a `bik` would look scoped
    and be all-powerful. Raises ValueError saying what is wrong."""
    found: dict[str, str] = {}
    for scoped, (claim, label, parse) in SCOPE_CLAIMS.items():
        value = claims.get(claim)
        if scoped != role:
            if value is not None:
                raise ValueError(f"a {role.value} token names no {label} (claim `{claim}`)")
            continue
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a {role.value} token must name its {label} (claim `{claim}`)")
        try:
            found[claim] = parse(value)
        except InvalidIdentifierError as error:
            raise ValueError(error.message) from None
    return found


def secret_path(settings: ApiSettings, name: str = SECRET_FILE) -> Path:
    return (Path(settings.data_dir) / name).resolve()


def generated_secret(settings: ApiSettings, name: str, *, create: bool = True) -> str:
    """A secret generated once into the data dir (embedded mode), 0600 from its creation."""
    path = secret_path(settings, name)
    if create and not path.exists():
        write_new_secret(path, secrets.token_urlsafe(48))
    if not path.exists():
        raise FileNotFoundError(path)
    return path.read_text().strip()


def secret_key(settings: ApiSettings, *, create: bool = True) -> str:
    """The configured token secret; in embedded mode one is generated once in the data dir."""
    if settings.secret_key:
        return settings.secret_key
    return generated_secret(settings, SECRET_FILE, create=create)


def acquirer_secret(settings: ApiSettings) -> str | None:
    """The webhook secret; in embedded mode with the sandbox, generated once in the data dir.
    None when it is not set and no sandbox signs with it: the webhook then takes nothing."""
    if settings.acquirer_secret:
        return settings.acquirer_secret
    if settings.acquirer_kind != "sandbox":
        return None
    return generated_secret(settings, ACQUIRER_SECRET_FILE)


def issue_token(
    secret: str,
    role: Role,
    payer_id: str | None = None,
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    *,
    bik: str | None = None,
    inn: str | None = None,
) -> str:
    """A signed token; `bik` for a bank operator, `inn` for a supplier operator (checked)."""
    if role == Role.RESIDENT and not payer_id:
        raise ValueError("a resident token needs a payer id")
    claims: dict[str, object] = {"role": role.value, "exp": int(time.time()) + lifetime}
    claims.update(scope_claims(role, {"bik": bik, "inn": inn}))
    if payer_id:
        claims["sub"] = payer_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def valid_payer_id(value: object) -> bool:
    """Text the ledger keeps as a payer id (ledger/domain/text.py). Refused at the door, so no
    read with it reaches the database either (PostgreSQL cannot even be asked about a NUL)."""
    if not isinstance(value, str):
        return False
    try:
        PAYER_ID.require(value)
    except InvalidTextError:
        return False
    return True


CALLER_SCOPE_KEY = "kvit.caller"
"""Where the token guard leaves the caller it authenticated, so routes do not decode again."""


def authenticate(request: HTTPConnection, secret: str) -> Caller:
    known = request.scope.get(CALLER_SCOPE_KEY)
    if isinstance(known, Caller):
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedProblem("send 'Authorization: Bearer <token>'")
    known_token = _verified.get((secret, token))
    if known_token is not None and (known_token[1] is None or time.time() < known_token[1]):
        return known_token[0]
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp"]},  # a token without an end is refused
        )
        role = Role(claims["role"])
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise UnauthorizedProblem("the token is invalid or expired") from None
    payer_id = claims.get("sub")
    if role == Role.RESIDENT and not payer_id:
        raise UnauthorizedProblem("a resident token must name its payer")
    if payer_id is not None and not valid_payer_id(payer_id):
        raise UnauthorizedProblem("the token's payer id is not text the ledger can keep")
    try:
        scope = scope_claims(role, claims)
    except ValueError as error:
        raise UnauthorizedProblem(f"the token's scope is refused: {error}") from None
    caller = Caller(
        role=role, payer_id=payer_id, bank_bik=scope.get("bik"), supplier_inn=scope.get("inn")
    )
    if len(_verified) >= VERIFIED_TOKENS:
        _verified.clear()  # simple and thread-safe; the next requests verify again
    _verified[(secret, token)] = (caller, claims.get("exp"))
    return caller


VERIFIED_TOKENS = 10_000
_verified: dict[tuple[str, str], tuple[Caller, int | None]] = {}
"""Tokens whose signature was checked, with their expiry: a resident's app sends the same
token on every request, and checking the HMAC again each time showed in the read profile.
Expiry is still checked on every use (PyJWT's rule: valid while now < exp)."""


def require(caller: Caller, *roles: Role) -> Caller:
    if caller.role not in roles:
        raise ForbiddenProblem(
            f"this needs the role {' or '.join(r.value for r in roles)}", role=caller.role.value
        )
    return caller
