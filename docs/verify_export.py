#!/usr/bin/env python3
"""Check a Kvit audit export with nothing but this file and the Python standard library.

    python3 verify_export.py EXPORT_DIR [--log-key KEY | --public-key HEX] [--checkpoint FILE]…
                             [--note FILE]… [--inclusion INDEX [--size N]] [--json]

EXPORT_DIR is what `kvit audit export` wrote (format `kvit.export`, docs/auditing.md):
`events.jsonl` (one line per log position), the hash chain's signed checkpoints
(`checkpoints.jsonl`, `checkpoint.json`), the tree's signed checkpoints (`tree-checkpoints.jsonl`,
`checkpoint`) and `manifest.json`. This script imports nothing from Kvit. From each line's
stored `state` bytes alone it recomputes:

  1. every event's entry, its hash and the hash chain, and compares them with what the service
     recorded for each position (`seq`, `event_hash`, `chain_hash`);
  2. every signed chain checkpoint: the Ed25519 signature (a pure-Python RFC 8032 verifier
     below) and the chain's hash and event count at its position;
  3. the Merkle tree (RFC 9162 §2.1) over the entries in log order, and every signed tree
     checkpoint (C2SP tlog-checkpoint in a C2SP signed note, Ed25519): its signature, and its
     root against the recomputed root at its size. Roots that match one recomputed tree are
     consistent with each other; the RFC 9162 consistency proof the export carries between
     successive checkpoints is verified too, from the two signed roots alone;
  4. with `--inclusion INDEX`: the inclusion proof of entry INDEX (0-based leaf index) in the
     latest signed tree (or the one of size N), printed and verified against its signed root;
  5. the balances: every ledger account from the postings that money-moving events carry
     (the trial balance, which must sum to zero), and every wallet from its own events
     (which must equal the credit side of its ledger account).

The entry (format `kvit.event.v1`, the same as audit/encoding.py), the chain and the tree:

    entry(e) = b"kvit.event.v1\\n"
               ‖ u16 len ‖ originator id (lower-case hyphenated UUID)
               ‖ u64 originator version
               ‖ u16 len ‖ topic (UTF-8)
               ‖ u16 len ‖ timestamp ("YYYY-MM-DDTHH:MM:SS.ffffffZ", UTC)
               ‖ u32 len ‖ state (the stored bytes)                 (integers big-endian)
    event_hash = SHA-256(entry);  chain_n = SHA-256(chain_{n-1} ‖ event_hash_n);  chain_0 = 0³²
    leaf hash = SHA-256(0x00 ‖ entry);  node hash = SHA-256(0x01 ‖ left ‖ right)

A chain checkpoint's signature covers b"kvit.checkpoint.v1\\n" followed by the compact,
key-sorted JSON of its position, count, chain_hash and time. A tree checkpoint is the note
body "<origin>\\n<size>\\n<base64 root>\\n", signed by the key named after its origin.

Keys: `--log-key ORIGIN+KEYID+BASE64` (what `kvit audit public-key` prints on its second line)
pins the key of both kinds of checkpoint; `--public-key HEX` pins the same Ed25519 key by its
bytes. Without either, the keys are taken from the export itself, which proves only that the
export is self-consistent: the first line of output says so.

Output: a summary line, a line for the tree, one `FINDING at position P: KIND: detail` line per
finding (the same kinds, at the same positions, as `kvit audit verify` reports, plus
`inconsistent` for signed checkpoints that contradict each other and `not_included` for an
inclusion proof that does not verify), the trial balance, then `OK` or `FAILED`.
Exit status: 0 when everything agrees, 1 on any finding or balance problem, 2 on bad usage
(no events.jsonl, a key or option that does not parse, an export of a newer format version,
an inclusion proof asked of a tree that no signed checkpoint covers).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import re
import struct
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

MAGIC = b"kvit.event.v1\n"
GENESIS = bytes(32)
CHECKPOINT_PREFIX = b"kvit.checkpoint.v1\n"
FORMAT, VERSIONS = "kvit.export", (1, 2)
MAX_FINDINGS = 100
MAX_LOOKUPS = 20  # mismatches classified as moved/modified (as `kvit audit verify` does)
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
sha256 = hashlib.sha256


class UsageError(ValueError):
    """Bad usage: exit status 2."""


# --- Ed25519 signature verification (RFC 8032, section 6; slow but plain) ------------------------
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    z = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, z - c, z + c, y + x
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))


# --- the entry and the chain ---------------------------------------------------------------
def utc_text(raw: str) -> str:
    if len(raw) == 32 and raw.endswith("+00:00") and raw[19] == "." and raw.isascii():
        return raw[:26] + "Z"
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode(state: bytes):
    """The stored JSON state, or None if it does not decode."""
    try:
        value = json.loads(state)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def timestamp_of(state: dict | None) -> str:
    try:
        value = state["timestamp"]
        return utc_text(str(value["_data_"] if isinstance(value, dict) else value))
    except (KeyError, TypeError, ValueError):
        return ""


def canonical_id(text: str) -> str:
    """A UUID as the entry spells it: lower-case, hyphenated (most ids already are)."""
    return text if CANONICAL_ID.fullmatch(text) else str(uuid.UUID(text))


def entry_of(originator_id: str, version: int, topic: str, stamp: str, state: bytes) -> bytes:
    ident = canonical_id(originator_id).encode("ascii")
    topic_bytes, stamp_bytes = topic.encode("utf-8"), stamp.encode("ascii")
    return b"".join(
        (
            MAGIC,
            struct.pack(">H", len(ident)),
            ident,
            struct.pack(">Q", version),
            struct.pack(">H", len(topic_bytes)),
            topic_bytes,
            struct.pack(">H", len(stamp_bytes)),
            stamp_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )


def entry_problem(line: dict, error: Exception) -> str:
    """Which field of an exported event keeps it from being an entry, in words."""
    version, topic = line.get("version"), line.get("topic")
    if not isinstance(version, int) or not 0 <= version < 1 << 64:
        return f"its originator version {version!r} is not an unsigned 64-bit number"
    if not isinstance(topic, str):
        return f"its topic is {type(topic).__name__}, not text"
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeError:
        return "its topic is not valid UTF-8 text"
    if size > 0xFFFF:
        return f"its topic is {size:,} bytes long (at most 65,535)"
    return f"{error}"[:200]


def chain(previous: bytes, digest: bytes) -> bytes:
    return sha256(previous + digest).digest()


def signed_message(checkpoint: dict) -> bytes:
    body = {k: checkpoint[k] for k in ("position", "count", "chain_hash", "time")}
    return CHECKPOINT_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# --- the Merkle tree (RFC 9162 §2.1) ----------------------------------------------------------
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """MTH of the leaves appended so far, kept as the roots of its perfect subtrees."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        size = self.size
        while size & 1:
            leaf = node_hash(self.hashes.pop(), leaf)
            size >>= 1
        self.hashes.append(leaf)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        folded = self.hashes[-1]
        for part in reversed(self.hashes[:-1]):
            folded = node_hash(part, folded)
        return folded


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list, root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, old: bytes, new: bytes, proof: list) -> bool:
    """RFC 9162 §2.1.4.2, step by step; equal sizes and an empty first tree need no proof."""
    if not 0 <= first <= second:
        return False
    if first in (0, second):
        return not proof and (first == 0 or old == new)
    if not proof:
        return False
    path = [old, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old and sr == new and sn == 0


def path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [low, high) whose tree hashes are PATH(index, D[size]) (RFC 9162
    §2.1.3.1), the leaf's sibling first."""
    ranges, low, high = [], 0, size
    while high - low > 1:
        k = split(high - low)
        if index - low < k:
            ranges.append((low + k, high))
            high = low + k
        else:
            ranges.append((low, low + k))
            low += k
    return ranges[::-1]


class InclusionPath:
    """PATH(index, D[size]) built in one pass over the leaves: each range of the path is a
    tree of its own, so no leaf is kept."""

    def __init__(self, index: int, size: int) -> None:
        self.index, self.size = index, size
        self.ranges = path_ranges(index, size)
        self.trees = [Tree() for _ in self.ranges]
        self.order = sorted(range(len(self.ranges)), key=lambda i: self.ranges[i][0])
        self.at = 0
        self.leaf: bytes | None = None
        self.line: dict = {}

    def add(self, i: int, leaf: bytes, line: dict) -> None:
        if i == self.index:
            self.leaf, self.line = leaf, line
        elif i < self.size:
            while self.ranges[self.order[self.at]][1] <= i:
                self.at += 1
            self.trees[self.order[self.at]].append(leaf)

    def proof(self) -> list[bytes]:
        return [tree.root() for tree in self.trees]


# --- signed notes and tree checkpoints (C2SP signed-note, tlog-checkpoint) ---------------------
def key_id(name: str, public: bytes) -> bytes:
    return sha256(name.encode() + b"\n\x01" + public).digest()[:4]


def parse_key(text: str) -> tuple[str, bytes]:
    """(name, Ed25519 public key) of a note verifier key `<name>+<key ID>+<base64>`."""
    parts = text.strip().split("+", 2)  # the base64 key may hold "+" itself
    if len(parts) != 3 or not parts[0] or len(parts[1]) != 8:
        raise UsageError("a log key is <name>+<8 hex digits>+<base64 key>")
    try:
        raw, wanted = base64.b64decode(parts[2], validate=True), bytes.fromhex(parts[1])
    except (binascii.Error, ValueError):
        raise UsageError("a log key's ID or key is not hex / base64") from None
    if len(raw) != 33 or raw[0] != 1:
        raise UsageError("a log key is an Ed25519 note key (type 0x01)")
    if key_id(parts[0], raw[1:]) != wanted:
        raise UsageError("the log key's ID does not match its name and key")
    return parts[0], raw[1:]


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint body; ValueError if it is not one."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0] or not lines[1].isdigit():
        raise ValueError("not a checkpoint: origin, size and root hash lines")
    if lines[1] != str(int(lines[1])):
        raise ValueError("a checkpoint's size has no leading zeros")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("a checkpoint's root hash is 32 bytes")
    return lines[0], int(lines[1]), root


def split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's body and its signature lines as (name, key ID ‖ signature)."""
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"):
        raise ValueError("not a signed note: no blank line before its signatures")
    signatures = []
    for line in text[cut + 2 :].splitlines():
        name, _, encoded = line.removeprefix("\u2014 ").partition(" ")
        if not line.startswith("\u2014 "):
            raise ValueError("a signature line starts with an em dash")
        signatures.append((name, base64.b64decode(encoded, validate=True)))
    return text[: cut + 1], signatures


def open_note(text: str, key: tuple[str | None, bytes]) -> tuple[str, int, bytes]:
    """(origin, size, root) of a tree checkpoint signed by `key` (a name, or None for the
    checkpoint's origin, and the public key); ValueError saying why not."""
    body, signatures = split_note(text)
    origin, size, root = parse_checkpoint(body)
    name = key[0] or origin
    if origin != name:
        raise ValueError(f"the checkpoint is for the log {origin}, not {name}")
    wanted = key_id(name, key[1])
    for signer, blob in signatures:
        mine = signer == name and blob[:4] == wanted and len(blob) == 68
        if mine and ed25519_verify(key[1], body.encode(), blob[4:]):
            return origin, size, root
    raise ValueError(f"not signed by the key {name}+{wanted.hex()}")


def note_size(text: str) -> int | None:
    """The size a note claims, read without checking anything (to place a finding)."""
    try:
        return parse_checkpoint(split_note(text)[0])[1]
    except (ValueError, binascii.Error):
        return None


# --- the walk -----------------------------------------------------------------------------
def chain_signature_ok(checkpoint: dict, public_key: str | None) -> bool:
    """Signed by `public_key` (hex), or by the key it names when none is pinned."""
    key = (public_key or str(checkpoint.get("public_key", ""))).lower()
    try:
        return str(checkpoint.get("public_key", "")).lower() == key and ed25519_verify(
            bytes.fromhex(key), signed_message(checkpoint), bytes.fromhex(checkpoint["signature"])
        )
    except (KeyError, ValueError):
        return False


def trusted_checkpoints(checkpoints: list, public_key: str | None) -> tuple[list, list]:
    """The chain checkpoints whose signature is good, and a finding for each of the others."""
    good, bad = [], []
    for cp in checkpoints:
        if chain_signature_ok(cp, public_key):
            good.append(cp)
        else:
            position = cp.get("position")
            bad.append(
                {
                    "kind": "bad_signature",
                    "position": int(position or 0),
                    "detail": f"checkpoint at position {position}: bad signature or key",
                }
            )
    return good, bad


class Check:
    """The walk over events.jsonl: the chain, the chain checkpoints, the balances; each entry
    goes on to the tree (TreeCheck)."""

    def __init__(self, checkpoints: list, public_key: str | None, tree: TreeCheck) -> None:
        self.good, self.early = trusted_checkpoints(checkpoints, public_key)
        self.findings: list[dict] = []
        self.tree = tree
        tree.check = self
        self.pending = sorted(self.good, key=lambda c: int(c["position"]))
        self.running, self.count = GENESIS, 0
        self.recorded, self.recorded_seq = GENESIS, 0
        self.good_position = 0
        self.last_position = 0
        self.events = self.missing = self.last_line = 0
        self.checked = 0
        self.chain_head = 0
        self.unrecorded: list[int] = []  # events with no recorded chain entry
        self.mismatched: list[tuple[int, bytes]] = []
        self.balances: dict[str, int] = {}
        self.wallets: dict[str, int] = {}
        self.problems: list[str] = []

    def add(self, kind: str, position: int, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append({"kind": kind, "position": position, "detail": detail})

    def settle(self, before: int, end: bool = False) -> None:
        while self.pending and (end or int(self.pending[0]["position"]) < before):
            cp = self.pending.pop(0)
            position, count = int(cp["position"]), int(cp["count"])
            self.checked += 1
            if self.running.hex() == cp["chain_hash"] and self.count == count:
                self.good_position = position
                continue
            if self.count < count and self.last_position < position:
                self.add(
                    "truncated",
                    self.last_position + 1,
                    f"the export ends at position {self.last_position} with {self.count}"
                    f" events; the checkpoint at {position} holds {count}",
                )
            else:
                inside = self.positions_after(self.good_position)
                explained = any(p <= position for p in inside)
                self.add(
                    "checkpoint_mismatch",
                    min(inside) if explained else self.good_position + 1,
                    f"the log up to position {position} does not match its checkpoint",
                )

    def positions_after(self, position: int) -> list[int]:
        return [f["position"] for f in self.findings if f["position"] > position]

    def recorded_row(self, line: dict) -> None:
        seq, digest, chained = line.get("seq"), line.get("event_hash"), line.get("chain_hash")
        self.chain_head = line["position"]
        for position in self.unrecorded:  # the chain passed them by: they were slipped in
            self.add(
                "inserted",
                position,
                f"an event at position {position}, which the chain passed without one",
            )
        self.unrecorded = []
        ok = (
            seq == self.recorded_seq + 1
            and chain(self.recorded, bytes.fromhex(digest)).hex() == chained
        )
        if not ok:
            self.add(
                "chain_broken",
                line["position"],
                f"chain row {line['position']} does not follow from the row before it",
            )
        self.recorded, self.recorded_seq = bytes.fromhex(chained), seq

    def line(self, line: dict) -> None:
        position = self.last_line = line["position"]
        self.settle(position)
        if line.get("event") is None and line.get("missing"):
            self.missing += 1
            self.recorded_row(line)
            self.add("deleted", position, f"the event recorded at position {position} is gone")
            return
        state = base64.b64decode(line["state"])
        decoded = decode(state)
        stamp = timestamp_of(decoded)
        try:
            entry = entry_of(line["id"], int(line["version"]), line["topic"], stamp, state)
        except (struct.error, ValueError, AttributeError) as error:
            # Fields the entry format cannot hold (a negative version, a topic over 65,535
            # bytes): no leaf, no link of the chain; what follows is compared without it.
            self.events, self.last_position = self.events + 1, position
            why = entry_problem(line, error)
            self.add("malformed", position, f"the event at position {position}: {why}")
            if line.get("chain_hash") is not None:
                self.recorded_row(line)
            return
        self.tree.add(entry, line)
        digest = sha256(entry).digest()
        self.running, self.count = chain(self.running, digest), self.count + 1
        self.events, self.last_position = self.events + 1, position
        if line.get("chain_hash") is None:
            self.unrecorded.append(position)
        else:
            if digest.hex() != line["event_hash"]:
                self.mismatched.append((position, digest))
                self.add(
                    "modified",
                    position,
                    f"the event at position {position} is not the one recorded there",
                )
            elif line.get("chain_timestamp") not in (None, stamp):
                self.add("chain_broken", position, "the chain table's timestamp was changed")
            self.recorded_row(line)
        if decoded is not None:
            self.money(line, decoded)

    def money(self, line: dict, state: dict) -> None:
        postings = state.get("postings")
        for posting in postings if isinstance(postings, list) else []:
            try:
                name, amount = str(posting["account"]), int(posting["amount"])
            except (KeyError, TypeError, ValueError):
                self.problems.append(f"position {line['position']}: a posting that is not one")
                continue
            self.balances[name] = self.balances.get(name, 0) + amount
        topic = line["topic"]
        if topic in ("kvit.wallet.credited", "kvit.wallet.debited"):
            sign = 1 if topic.endswith("credited") else -1
            wallet = canonical_id(line["id"])
            amount = state.get("amount")
            if not isinstance(amount, int):
                self.problems.append(f"position {line['position']}: a wallet event without amount")
                return
            self.wallets[wallet] = self.wallets.get(wallet, 0) + sign * amount
        elif topic == "kvit.wallet.opened":
            self.wallets.setdefault(canonical_id(line["id"]), 0)

    def finish(self, recorded_at: dict[str, int]) -> None:
        self.settle(0, end=True)
        self.tree.settle_end()
        for position, digest in self.mismatched[:MAX_LOOKUPS]:  # recorded elsewhere: moved
            elsewhere = recorded_at.get(digest.hex())
            if elsewhere is not None and elsewhere != position:
                for finding in self.findings:
                    if finding["position"] == position and finding["kind"] == "modified":
                        finding["kind"] = "moved"
                        finding["detail"] = (
                            f"the event at position {position} was recorded at"
                            f" position {elsewhere}: events were swapped or reordered"
                        )
        self.unchained = len(self.unrecorded)  # after the chain's head: not chained yet
        early = self.early + self.tree.placed()
        self.findings = sorted(early + self.findings, key=lambda f: f["position"])


class TreeCheck:
    """The tree recomputed as the walk goes, against the signed roots (`notes`: verified
    (size, root) pairs) and, with `path`, one entry's inclusion proof."""

    def __init__(self, roots: list, sized: list, path: InclusionPath | None) -> None:
        self.tree = Tree()
        self.roots = sorted(roots)
        self.sized = sized  # (size, kind, detail): findings placed at that size's position
        self.wanted = {size for size, _, _ in sized} | {size for size, _ in roots}
        self.at_size: dict[int, int] = {}
        self.path = path
        self.good_position = 0
        self.matched = 0
        self.check: Check

    def add(self, entry: bytes, line: dict) -> None:
        leaf = sha256(b"\x00" + entry).digest()
        if self.path is not None:
            self.path.add(self.tree.size, leaf, line)
        self.tree.append(leaf)
        if self.tree.size in self.wanted:
            self.at_size[self.tree.size] = line["position"]
        if self.roots and self.roots[0][0] <= self.tree.size:
            self.settle(line["position"])

    def settle(self, position: int) -> None:
        """Compare the signed roots of the tree's size so far with the recomputed one."""
        while self.roots and self.roots[0][0] <= self.tree.size:
            size, signed = self.roots.pop(0)
            if size == self.tree.size and self.tree.root() == signed:
                self.good_position, self.matched = position, self.matched + 1
                continue
            inside = self.check.positions_after(self.good_position)
            self.check.add(
                "tree_mismatch",
                min(inside) if inside else self.good_position + 1,
                f"the tree of the log's first {size} events does not have the root signed"
                " for that size: history before it was rewritten",
            )

    def settle_end(self) -> None:
        last = self.check.last_position
        for size, _ in self.roots:
            self.check.add(
                "truncated",
                last + 1,
                f"the export holds {self.tree.size} events, but a tree checkpoint was signed"
                f" at size {size}: {size - self.tree.size} newest events are missing",
            )
        self.roots = []

    def placed(self) -> list[dict]:
        """The size-keyed findings (bad notes, inconsistent ones) at their log positions."""
        out = []
        for size, kind, detail in self.sized:
            if size is None or size == 0:
                position = 0
            else:
                position = self.at_size.get(size, self.check.last_position + 1)
            out.append({"kind": kind, "position": position, "detail": detail})
        return out


# --- the export's files -------------------------------------------------------------------------
def read_json_lines(path: Path) -> list:
    """One JSON object, or JSON Lines of them."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        found = [json.loads(text)] if text else []
    except json.JSONDecodeError:
        try:
            found = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise UsageError(f"{path} is not JSON: {error}") from None
    if not all(isinstance(item, dict) for item in found):
        raise UsageError(f"{path} holds something other than JSON objects")
    return found


def load_checkpoints(directory: Path, extra: list[Path]) -> list[dict]:
    found: list[dict] = []
    for path in [directory / "checkpoints.jsonl", directory / "checkpoint.json", *extra]:
        if path.exists():
            found += read_json_lines(path)
    unique = {(str(c.get("position")), str(c.get("signature"))): c for c in found}
    return list(unique.values())


def load_notes(directory: Path, extra: list[Path]) -> tuple[list[str], dict[int, dict]]:
    """Every signed note (the export's, then the kept ones), and the consistency proofs the
    export carries, by the size they lead to."""
    texts, proofs = [], {}
    listed = directory / "tree-checkpoints.jsonl"
    for line in read_json_lines(listed) if listed.exists() else []:
        texts.append(str(line.get("note", "")))
        if isinstance(line.get("consistency"), dict) and isinstance(line.get("size"), int):
            proofs[line["size"]] = line["consistency"]
    for path in [directory / "checkpoint", *extra]:
        if path.exists():
            texts.append(path.read_text(encoding="utf-8"))
    return list(dict.fromkeys(texts)), proofs


def load_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    manifest = read_json_lines(path)[0] if path.exists() else {}
    version = manifest.get("version", 1)
    if (manifest and manifest.get("format") != FORMAT) or version not in VERSIONS:
        raise UsageError(
            f"{path} is {manifest.get('format')} version {version}; this checker reads"
            f" {FORMAT} versions {VERSIONS[0]} to {VERSIONS[-1]}"
        )
    return manifest


def raw_key(text: str) -> bytes | None:
    """An Ed25519 public key from its hex, or None."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


class Keys:
    """Which keys the checkpoints must be signed with, and whether the auditor pinned them."""

    def __init__(self, public_key: str | None, log_key: str | None, manifest: dict) -> None:
        note_key = parse_key(log_key) if log_key else None
        if public_key is not None and raw_key(public_key) is None:
            raise UsageError("--public-key is 64 hex digits (an Ed25519 key)")
        self.public = public_key or (note_key[1].hex() if note_key else None)
        self.pinned = self.public is not None
        if note_key is None and self.public is not None:
            note_key = (None, bytes.fromhex(self.public))  # named after each checkpoint's origin
        if note_key is None and manifest.get("log_key"):
            note_key = parse_key(str(manifest["log_key"]))
        self.note: tuple[str | None, bytes] | None = note_key

    def from_checkpoints(self, checkpoints: list) -> None:
        """An export without the log's key: the chain checkpoints' key (the same one)."""
        public = raw_key(str(checkpoints[0].get("public_key"))) if checkpoints else None
        if self.note is None and public is not None:
            self.note = (None, public)

    def describe(self) -> str | None:
        if self.note is None:
            return None
        name = self.note[0]
        return f"{name}+{key_id(name, self.note[1]).hex()}" if name else self.note[1].hex()


def open_notes(texts: list[str], keys: Keys) -> tuple[list, list]:
    """Verified (size, root) pairs, and (size, kind, detail) for the notes that fail."""
    roots, sized = set(), []
    for text in texts:
        if keys.note is None:
            sized.append((note_size(text), "bad_signature", "no key to check a tree checkpoint"))
            continue
        try:
            _, size, root = open_note(text, keys.note)
        except (ValueError, binascii.Error) as error:
            size = note_size(text)
            sized.append((size, "bad_signature", f"tree checkpoint of size {size}: {error}"))
            continue
        roots.add((size, root))
    return sorted(roots), sized


def consistency(roots: list, proofs: dict[int, dict]) -> tuple[int, list]:
    """Verify the carried consistency proofs between successive signed roots (from those two
    roots alone), and that no two signed roots share a size: how many proofs verified, and
    (size, kind, detail) for each contradiction."""
    signed, verified, sized = dict(roots), 0, []
    sizes = [size for size, _ in roots]
    for size in sorted({size for size in sizes if sizes.count(size) > 1}):
        sized.append(
            (size, "inconsistent", f"two signed checkpoints of size {size} differ: a fork")
        )
    for size, carried in sorted(proofs.items()):
        first, hashes = carried.get("from"), carried.get("proof")
        known = isinstance(first, int) and first in signed and size in signed
        if not known or not isinstance(hashes, list):
            continue
        try:
            proof = [base64.b64decode(h, validate=True) for h in hashes]
        except (binascii.Error, TypeError):
            proof = [b""]  # not base64: it cannot verify
        if verify_consistency(first, size, signed[first], signed[size], proof):
            verified += 1
        else:
            sized.append(
                (
                    size,
                    "inconsistent",
                    f"the consistency proof from size {first} to {size} does not verify"
                    " between their signed roots",
                )
            )
    return verified, sized


def inclusion_target(index: int | None, size: int | None, roots: list) -> InclusionPath | None:
    if index is None:
        return None
    sizes = sorted({s for s, _ in roots})
    if size is None:
        size = sizes[-1] if sizes else 0
    elif size not in sizes:
        raise UsageError(f"no signed tree checkpoint of size {size} (signed sizes: {sizes})")
    if not 0 <= index < size:
        raise UsageError(
            f"entry {index} is under no signed tree checkpoint"
            f" (the largest is of size {sizes[-1] if sizes else 0})"
        )
    return InclusionPath(index, size)


def walk(directory: Path, chain_check: Check) -> None:
    events_file = directory / "events.jsonl"
    with events_file.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            line = None
            try:
                line = json.loads(text)
                chain_check.line(line)
            except (ValueError, KeyError, TypeError, RecursionError, struct.error) as error:
                at = ""
                with contextlib.suppress(Exception):  # whatever the line holds
                    at = f" (position {int(line['position'])})"
                raise UsageError(
                    f"{events_file}, line {number}{at}: unreadable ({error!r:.200})"
                ) from None
    recorded_at: dict[str, int] = {}
    if chain_check.mismatched:
        wanted = {d.hex() for _, d in chain_check.mismatched[:MAX_LOOKUPS]}
        with events_file.open(encoding="utf-8") as lines:
            for text in lines:
                line = json.loads(text)
                if line.get("event_hash") in wanted:
                    recorded_at.setdefault(line["event_hash"], line["position"])
    chain_check.finish(recorded_at)


def inclusion_result(path: InclusionPath, roots: list, walked: Check) -> dict:
    signed = dict(roots)[path.size]
    proof = path.proof()
    found = path.leaf is not None
    ok = found and verify_inclusion(path.leaf, path.index, path.size, proof, signed)
    position = path.line.get("position", walked.last_position + 1)
    if not ok:
        walked.findings.append(
            {
                "kind": "not_included",
                "position": position,
                "detail": f"entry {path.index} does not prove into the root signed for size"
                f" {path.size}" + ("" if found else ": the export ends before it"),
            }
        )
        walked.findings.sort(key=lambda f: f["position"])
    b64 = lambda h: base64.b64encode(h).decode()  # noqa: E731
    return {
        "index": path.index,
        "position": position,
        "topic": path.line.get("topic"),
        "size": path.size,
        "leaf_hash": b64(path.leaf) if found else None,
        "proof": [b64(h) for h in proof],
        "root": b64(signed),
        "verified": ok,
    }


def manifest_findings(manifest: dict, walked: Check) -> None:
    if not manifest:
        return
    listed = (manifest.get("events"), manifest.get("last_position"), manifest.get("missing"))
    if listed == (walked.events, walked.last_line, walked.missing):
        return
    shorter = isinstance(listed[1], int) and walked.last_line < listed[1]
    if shorter and any(f["kind"] == "truncated" for f in walked.findings):
        return  # a signed checkpoint has said it already
    walked.findings.append(
        {
            "kind": "truncated" if shorter else "manifest_mismatch",
            "position": walked.last_line + 1,
            "detail": f"the manifest lists {listed[0]} events up to position {listed[1]};"
            f" the export holds {walked.events} up to {walked.last_line}",
        }
    )
    walked.findings.sort(key=lambda f: f["position"])


def check(
    directory: Path,
    public_key: str | None = None,
    extra: list[Path] = (),
    *,
    log_key: str | None = None,
    notes: list[Path] = (),
    inclusion: int | None = None,
    size: int | None = None,
) -> dict:
    manifest = load_manifest(directory)
    keys = Keys(public_key, log_key, manifest)
    checkpoints = load_checkpoints(directory, list(extra))
    keys.from_checkpoints(checkpoints)
    texts, proofs = load_notes(directory, list(notes))
    roots, sized = open_notes(texts, keys)
    proven, contradictions = consistency(roots, proofs)
    path = inclusion_target(inclusion, size, roots)
    tree = TreeCheck(roots, sized + contradictions, path)
    walked = Check(checkpoints, keys.public, tree)
    walk(directory, walked)
    manifest_findings(manifest, walked)
    problems = balance_problems(walked)
    return {
        "format_version": manifest.get("version", 1),
        "events": walked.events,
        "last_position": walked.last_position,
        "chain_head": walked.chain_head,
        "unchained": walked.unchained,
        "checkpoints": walked.checked,
        "public_key_pinned": keys.pinned,
        "tree": {
            "size": tree.tree.size,
            "root": base64.b64encode(tree.tree.root()).decode(),
            "key": keys.describe(),
            "signed_checkpoints": len({text.partition("\n\n")[0] for text in texts}),
            "matching_checkpoints": tree.matched,
            "consistency_proofs": proven,
        },
        "inclusion": inclusion_result(path, roots, walked) if path else None,
        "findings": walked.findings,
        "balances": dict(sorted(walked.balances.items())),
        "wallets": dict(sorted(walked.wallets.items())),
        "problems": problems,
    }


def balance_problems(walked: Check) -> list[str]:
    problems = list(walked.problems)
    total = sum(walked.balances.values())
    if total != 0:
        problems.append(f"the postings sum to {total}, not zero")
    for wallet, amount in sorted(walked.wallets.items()):
        posted = -walked.balances.get(f"wallet:{wallet}", 0)
        if posted != amount:
            problems.append(f"wallet {wallet}: {amount} from its events, {posted} from postings")
        if amount < 0:
            problems.append(f"wallet {wallet} is below zero: {amount}")
    return problems


# --- the report -----------------------------------------------------------------------------------
def print_summary(result: dict) -> None:
    tree = result["tree"]
    pinned = result["public_key_pinned"]
    print(
        f"{result['events']} events up to position {result['last_position']};"
        f" chain recorded up to {result['chain_head']};"
        f" {result['checkpoints']} chain checkpoint(s) checked"
        + ("" if pinned else " (keys taken from the export: pass --log-key to pin them)")
    )
    print(f"tree: {tree['size']} leaves, root {tree['root']}")
    print(
        f"tree checkpoints: {tree['matching_checkpoints']} of {tree['signed_checkpoints']}"
        f" match the tree; {tree['consistency_proofs']} consistency proof(s) verified"
        + (f"; key {tree['key']}" if tree["key"] else "")
    )
    if result["unchained"]:
        print(f"{result['unchained']} newer event(s) were not chained yet")


def print_inclusion(found: dict) -> None:
    print(
        f"inclusion: entry {found['index']} (position {found['position']}, {found['topic']})"
        f" in the tree of size {found['size']}"
    )
    print(f"  leaf hash: {found['leaf_hash']}")
    for i, h in enumerate(found["proof"]):
        print(f"  proof {i + 1}/{len(found['proof'])}: {h}")
    if found["verified"]:
        print(
            f"INCLUDED: entry {found['index']} is in the size-{found['size']} tree whose"
            f" signed root is {found['root']}"
        )


def print_report(result: dict) -> None:
    print_summary(result)
    if result["inclusion"]:
        print_inclusion(result["inclusion"])
    for finding in result["findings"]:
        print(f"FINDING at position {finding['position']}: {finding['kind']}: {finding['detail']}")
    balances = result["balances"]
    print(f"trial balance: {len(balances)} ledger accounts, sum {sum(balances.values())}")
    width = max((len(name) for name in balances), default=0)
    for name, amount in balances.items():
        print(f"  {name:<{width}} {amount:>14,}")
    for problem in result["problems"]:
        print(f"PROBLEM: {problem}")
    print("OK" if not result["findings"] and not result["problems"] else "FAILED")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--log-key", help="the log's note verifier key ORIGIN+KEYID+BASE64")
    parser.add_argument("--public-key", help="or the Ed25519 key (hex) checkpoints must carry")
    parser.add_argument(
        "--checkpoint", type=Path, action="append", default=[], help="a chain checkpoint you kept"
    )
    parser.add_argument(
        "--note", type=Path, action="append", default=[], help="a tree checkpoint you kept"
    )
    parser.add_argument("--inclusion", type=int, metavar="INDEX", help="prove entry INDEX")
    parser.add_argument("--size", type=int, help="in the signed tree of this size (the latest)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if not (args.directory / "events.jsonl").exists():
        print(f"no events.jsonl in {args.directory}", file=sys.stderr)
        return 2
    for path in [*args.checkpoint, *args.note]:
        if not path.is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 2
    try:
        result = check(
            args.directory,
            args.public_key,
            args.checkpoint,
            log_key=args.log_key,
            notes=args.note,
            inclusion=args.inclusion,
            size=args.size,
        )
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_report(result)
    return 0 if not result["findings"] and not result["problems"] else 1


if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `verify_export.py DIR | head`: the reader has gone, which is fine
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # as a shell reports a reader that left (128 + SIGPIPE)
    sys.exit(code)
