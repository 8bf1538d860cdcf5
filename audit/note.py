"""Signed checkpoints in the open formats: C2SP signed-note, tlog-checkpoint, tlog-cosignature.

    checkpoint body   <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n
    signed note       <body>\\n— <key name> <base64(key ID ‖ signature)>\\n  (one line per signer)
    key ID            SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4];  type 0x01 Ed25519 note
                      signature, 0x04 timestamped Ed25519 cosignature (cosignature/v1)
    verifier key      <name>+<key ID, 8 hex>+<base64(type ‖ public key)>
    cosignature       key ID ‖ u64 timestamp (seconds) ‖ Ed25519 over
                      "cosignature/v1\\ntime <timestamp>\\n" ‖ body

Kvit names its key after the log's origin, signs no extension lines, and puts its own
signature first; witnesses' cosignatures follow it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE = 0x04
DASH = "\u2014 "
MAX_NOTE_BYTES = 1 << 20


class NoteError(ValueError):
    """A note, checkpoint or key that is not in the format, or a signature that does not verify."""


def raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, kind: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


@dataclass(frozen=True)
class Verifier:
    """A key that signs notes (type 0x01) or cosigns checkpoints (type 0x04)."""

    name: str
    kind: int
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.kind, self.public)

    def text(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 key may hold "+" itself
        if len(parts) != 3 or not valid_name(parts[0]) or len(parts[1]) != 8:
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        try:
            raw = base64.b64decode(parts[2], validate=True)
            wanted = bytes.fromhex(parts[1])
        except (binascii.Error, ValueError):
            raise NoteError("a verifier key's ID or key is not hex / base64") from None
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE):
            raise NoteError("only Ed25519 keys (type 0x01 or 0x04) are supported")
        verifier = cls(parts[0], raw[0], raw[1:])
        if verifier.id != wanted:
            raise NoteError("the verifier key's ID does not match its name and key")
        return verifier


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """The body with one signature line, as the note's key `name`."""
    signature = key.sign(body.encode())
    blob = key_id(name, ED25519, raw_public(key)) + signature
    return f"{body}\n{DASH}{name} {base64.b64encode(blob).decode()}\n"


def cosign(body: str, name: str, key: Ed25519PrivateKey, at: int | None = None) -> str:
    """A witness's signature line for a checkpoint body (tlog-cosignature/v1)."""
    stamp = int(time.time()) if at is None else at
    message = f"cosignature/v1\ntime {stamp}\n".encode() + body.encode()
    blob = key_id(name, COSIGNATURE, raw_public(key)) + struct.pack(">Q", stamp) + key.sign(message)
    return f"{DASH}{name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Signature:
    name: str
    id: bytes
    blob: bytes
    """After the key ID: the signature (0x01) or the timestamp and signature (0x04)."""

    def line(self) -> str:
        return f"{DASH}{self.name} {base64.b64encode(self.id + self.blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    body: str
    signatures: tuple[Signature, ...]

    def text(self) -> str:
        return self.body + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, line: str) -> Note:
        """This note with one more signature line (a witness's), replacing that key's old one."""
        added = parse_note(self.body + "\n" + line).signatures[0]
        kept = tuple(s for s in self.signatures if (s.name, s.id) != (added.name, added.id))
        return Note(self.body, (*kept, added))


def parse_note(text: str) -> Note:
    """Split a signed note into its body and signature lines (nothing is verified yet)."""
    if len(text.encode()) > MAX_NOTE_BYTES or not text.endswith("\n"):
        raise NoteError("a signed note ends with a newline and is at most 1 MiB")
    cut = text.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note has a blank line before its signatures")
    body, lines = text[: cut + 1], text[cut + 2 :].splitlines()
    signatures = []
    for line in lines:
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        name, _, encoded = line[len(DASH) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if not valid_name(name) or len(blob) < 5:
            raise NoteError("a signature line is `— <name> <base64>`")
        signatures.append(Signature(name, blob[:4], blob[4:]))
    if not signatures:
        raise NoteError("a signed note has at least one signature")
    return Note(body, tuple(signatures))


def verified_by(note: Note, verifier: Verifier) -> Signature | None:
    """The signature of `verifier` on the note if there is one and it verifies."""
    public = Ed25519PublicKey.from_public_bytes(verifier.public)
    for signature in note.signatures:
        if (signature.name, signature.id) != (verifier.name, verifier.id):
            continue
        if verifier.kind == ED25519:
            message, raw = note.body.encode(), signature.blob
        elif len(signature.blob) == 72:
            stamp = struct.unpack(">Q", signature.blob[:8])[0]
            message = f"cosignature/v1\ntime {stamp}\n".encode() + note.body.encode()
            raw = signature.blob[8:]
        else:
            continue
        try:
            public.verify(raw, message)
        except InvalidSignature:
            continue
        return signature
    return None


def cosigned_at(signature: Signature) -> int:
    return int(struct.unpack(">Q", signature.blob[:8])[0])


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        extra = "".join(line + "\n" for line in self.extensions)
        return checkpoint_body(self.origin, self.size, self.root) + extra


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise NoteError("a checkpoint is origin, size and root hash lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("a checkpoint's size is a decimal number without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise NoteError("a checkpoint's root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("a checkpoint's root hash is 32 bytes")
    extensions = tuple(lines[3:-1])
    if any(not line for line in extensions):
        raise NoteError("a checkpoint has no empty extension lines")
    return Checkpoint(origin, int(size_text), root, extensions)


def open_checkpoint(text: str, verifier: Verifier) -> tuple[Checkpoint, Note]:
    """A signed checkpoint whose signature by `verifier` is good, and whose origin is its name."""
    note = parse_note(text)
    if verified_by(note, verifier) is None:
        raise NoteError(f"the checkpoint is not signed by {verifier.name}")
    checkpoint = parse_checkpoint(note.body)
    if checkpoint.origin != verifier.name:
        raise NoteError(f"the checkpoint is for {checkpoint.origin!r}, not {verifier.name!r}")
    return checkpoint, note
