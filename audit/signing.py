"""Ed25519 keys and signed checkpoints.

A checkpoint says: "the chain, up to log position `position`, holds `count` events and ends in
`chain_hash`", signed by the service at `time`. An auditor keeps the JSON outside the database;
a later `verify` against it catches any rewrite of history before that position, even one that
recomputed the chain table too, and any deletion of the newest events (the count drops).

    {"kind": "kvit.checkpoint", "v": 1, "position": 1200, "count": 1187,
     "chain_hash": "<hex>", "time": "2026-03-05T10:00:00.000000Z",
     "public_key": "<hex of the raw 32-byte Ed25519 key>", "signature": "<hex, 64 bytes>"}

The signature covers `signed_message()`: a fixed prefix and the compact, key-sorted JSON of
position, count, chain_hash and time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, field_validator

from audit.encoding import utc_text
from audit.note import valid_name
from audit.store import ChainRow
from ledger.private_files import write_new_secret
from ledger.settings import Settings

KEY_FILE = "audit_signing_key"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"  # as api/settings.py
PREFIX = b"kvit.checkpoint.v1\n"
SIGNED = ("position", "count", "chain_hash", "time")


class AuditSettings(Settings):
    audit_signing_key: str | None = Field(default=None, repr=False)
    """KVIT_AUDIT_SIGNING_KEY: the Ed25519 private key, 64 hex digits (the 32-byte seed)."""

    audit_signing_key_file: Path | None = None
    """KVIT_AUDIT_SIGNING_KEY_FILE: or a file holding it (hex seed or PEM). In embedded mode
    one is generated once at `<data_dir>/audit_signing_key`."""

    audit_public_key: str | None = None
    """KVIT_AUDIT_PUBLIC_KEY: the key an auditor trusts (hex), when they hold no private key."""

    log_origin: str | None = None
    """KVIT_LOG_ORIGIN: the transparency log's name, the first line of its checkpoints and
    the name of its key; by default the public URL without its scheme, plus `/log`."""

    public_url: str | None = None
    """KVIT_PUBLIC_URL (see the API's settings): where the default origin comes from."""

    log_witnesses: str = ""
    """KVIT_LOG_WITNESSES: the witnesses whose cosignatures the log accepts and publishes,
    as cosignature verifier keys (`<name>+<id>+<base64>`), separated by commas."""

    audit_follow_linger_seconds: float = Field(default=0.1, ge=0, le=10)
    """KVIT_AUDIT_FOLLOW_LINGER_SECONDS: woken by a commit, `kvit audit follow` waits this long
    before it reads, so that one batch takes the commits of that while. Nothing waits for the
    chain on a write's path; each batch costs a read, a transaction and an insert whatever its
    size, and under payments at one or two commits a batch that fixed cost was the most of it."""

    audit_checkpoint_every_events: int = 10_000
    audit_checkpoint_interval_seconds: float = 3600.0
    """A follower signs a checkpoint after this many new events, or this long after the last
    one if the chain grew at all."""

    @field_validator("log_origin")
    @classmethod
    def _origin_names_a_key(cls, value: str | None) -> str | None:
        if value is not None and not valid_name(value):
            raise ValueError("the log's origin has no spaces and no '+'")
        return value

    @property
    def origin(self) -> str:
        if self.log_origin:
            return self.log_origin
        url = urlsplit(self.public_url or DEFAULT_PUBLIC_URL)
        return f"{url.netloc}{url.path.rstrip('/')}/log"


class NoSigningKeyError(RuntimeError):
    pass


class InvalidSigningKeyError(NoSigningKeyError):
    """The configured key is there but is not an Ed25519 key (hex seed or PEM)."""


def _parse_private(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the audit signing key must be an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))


def signing_key(settings: AuditSettings, *, create: bool = True) -> Ed25519PrivateKey:
    """The configured key; in embedded mode one is generated once into the data dir."""
    if settings.audit_signing_key:
        return parse_key_text(settings.audit_signing_key, "KVIT_AUDIT_SIGNING_KEY")
    path = settings.audit_signing_key_file
    if path is None and not settings.uses_postgres:
        path = settings.data_dir / KEY_FILE
        if create and not path.exists():
            seed = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            # 0600 at creation: two processes starting together keep one key
            write_new_secret(path, seed.hex() + "\n")
    if path is None or not path.exists():
        where = f" ({path} does not exist)" if path is not None else ""
        raise NoSigningKeyError(
            f"no audit signing key{where}: run `kvit audit keygen`, or set"
            " KVIT_AUDIT_SIGNING_KEY or KVIT_AUDIT_SIGNING_KEY_FILE"
        )
    return parse_key_text(path.read_text(), str(path))


def parse_key_text(text: str, where: str) -> Ed25519PrivateKey:
    try:
        return _parse_private(text)
    except (ValueError, TypeError) as error:
        raise InvalidSigningKeyError(
            f"the audit signing key in {where} is not an Ed25519 key (64 hex digits or PEM):"
            f" {error}"
        ) from None


def new_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new key (hex seed) to `path`, 0600 from its creation; never overwrite one."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    if not write_new_secret(path, seed.hex() + "\n"):
        raise FileExistsError(17, "a key file exists already; it is kept", str(path))
    return key


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def trusted_public_key(settings: AuditSettings, given: str | None = None) -> str | None:
    """The public key checkpoints must be signed with: given > configured > from our own key."""
    if given:
        return given.strip().lower()
    if settings.audit_public_key:
        return settings.audit_public_key.strip().lower()
    try:
        return public_hex(signing_key(settings, create=False))
    except NoSigningKeyError:
        return None


def signed_message(checkpoint: dict[str, Any]) -> bytes:
    body = {k: checkpoint[k] for k in SIGNED}
    return PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(
    key: Ed25519PrivateKey, head: ChainRow, at: datetime | None = None
) -> dict[str, Any]:
    checkpoint: dict[str, Any] = {
        "kind": "kvit.checkpoint",
        "v": 1,
        "position": head.position,
        "count": head.seq,
        "chain_hash": head.chain_hash.hex(),
        "time": utc_text(at or datetime.now(UTC)),
        "public_key": public_hex(key),
    }
    checkpoint["signature"] = key.sign(signed_message(checkpoint)).hex()
    return checkpoint


def signature_ok(checkpoint: dict[str, Any], public_key: str) -> bool:
    """True if the checkpoint was signed by `public_key` (hex) and says so."""
    try:
        if str(checkpoint["public_key"]).lower() != public_key.lower():
            return False
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
        key.verify(bytes.fromhex(checkpoint["signature"]), signed_message(checkpoint))
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def as_record(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What the `audit_checkpoint` table keeps, and how a row becomes a checkpoint again."""
    return {
        "kind": "kvit.checkpoint",
        "v": 1,
        **{
            k: checkpoint[k]
            for k in ("position", "count", "chain_hash", "time", "public_key", "signature")
        },
    }


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """Checkpoints from a file: one JSON object, or JSON Lines of them."""
    text = path.read_text().strip()
    try:
        found = [json.loads(text)]
    except json.JSONDecodeError:
        found = []
    try:
        found = found or [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a checkpoint file (JSON or JSON Lines): {error}") from None
    if not all(isinstance(c, dict) for c in found):
        raise ValueError(f"{path} is not a checkpoint file: expected JSON objects")
    return found


def write_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(checkpoint, indent=2) + "\n")
    temporary.replace(path)
