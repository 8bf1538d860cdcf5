#!/usr/bin/env python3
"""Check a Kvit audit export with nothing but this file and the Python standard library.

    python3 verify_export.py EXPORT_DIR [--public-key HEX] [--checkpoint FILE ...] [--json]

EXPORT_DIR is what `kvit audit export` wrote: `events.jsonl` (one line per log position) and
the signed checkpoints (`checkpoints.jsonl`, `checkpoint.json`). This script imports nothing
from Kvit. It recomputes, from each line's stored `state` bytes alone:

  1. every event's hash and the hash chain, and compares them with what the service recorded
     for each position (`seq`, `event_hash`, `chain_hash`);
  2. every signed checkpoint: the Ed25519 signature (a pure-Python RFC 8032 verifier below)
     and the chain's hash and event count at its position;
  3. the balances: every ledger account from the postings that money-moving events carry
     (the trial balance, which must sum to zero), and every wallet from its own events
     (which must equal the credit side of its ledger account).

The canonical encoding and the chain (the same as audit/encoding.py):

    canonical(e) = b"kvit.event.v1\\n"
                   ‖ u16 len ‖ originator id (lower-case hyphenated UUID)
                   ‖ u64 originator version
                   ‖ u16 len ‖ topic (UTF-8)
                   ‖ u16 len ‖ timestamp ("YYYY-MM-DDTHH:MM:SS.ffffffZ", UTC)
                   ‖ u32 len ‖ state (the stored bytes)                 (integers big-endian)
    event_hash = SHA-256(canonical(e));  chain_n = SHA-256(chain_{n-1} ‖ event_hash_n);
    chain_0 = 32 zero bytes.

A checkpoint's signature covers b"kvit.checkpoint.v1\\n" followed by the compact, key-sorted
JSON of its position, count, chain_hash and time.

Exit status: 0 when everything agrees, 1 on any finding or balance problem, 2 on bad usage.
Findings are the same kinds, at the same positions, as `kvit audit verify` reports.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

MAGIC = b"kvit.event.v1\n"
GENESIS = bytes(32)
CHECKPOINT_PREFIX = b"kvit.checkpoint.v1\n"
MAX_FINDINGS = 100
MAX_LOOKUPS = 20  # mismatches classified as moved/modified (as `kvit audit verify` does)


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


# --- the chain ----------------------------------------------------------------------------
def utc_text(raw: str) -> str:
    if len(raw) == 32 and raw.endswith("+00:00") and raw[19] == ".":
        return raw[:26] + "Z"
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode(state: bytes):
    """The stored JSON state, or None if it does not decode."""
    try:
        value = json.loads(state)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def timestamp_of(state: dict | None) -> str:
    try:
        value = state["timestamp"]
        return utc_text(str(value["_data_"] if isinstance(value, dict) else value))
    except (KeyError, TypeError, ValueError):
        return ""


def event_hash(originator_id: str, version: int, topic: str, stamp: str, state: bytes) -> bytes:
    ident = str(uuid.UUID(originator_id)).encode("ascii")
    topic_bytes, stamp_bytes = topic.encode("utf-8"), stamp.encode("ascii")
    canonical = b"".join(
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
    return hashlib.sha256(canonical).digest()


def chain(previous: bytes, digest: bytes) -> bytes:
    return hashlib.sha256(previous + digest).digest()


def signed_message(checkpoint: dict) -> bytes:
    body = {k: checkpoint[k] for k in ("position", "count", "chain_hash", "time")}
    return CHECKPOINT_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# --- the walk -----------------------------------------------------------------------------
class Check:
    def __init__(self, checkpoints: list, public_key: str | None) -> None:
        self.findings: list[dict] = []
        self.good: list[dict] = []
        for cp in checkpoints:
            key = (public_key or str(cp.get("public_key", ""))).lower()
            ok = str(cp.get("public_key", "")).lower() == key
            try:
                ok = ok and ed25519_verify(
                    bytes.fromhex(key), signed_message(cp), bytes.fromhex(cp["signature"])
                )
            except (KeyError, ValueError):
                ok = False
            if ok:
                self.good.append(cp)
            else:
                self.add(
                    "bad_signature",
                    int(cp.get("position", 0)),
                    f"checkpoint at position {cp.get('position')}: bad signature or key",
                    early=True,
                )
        self.pending = sorted(self.good, key=lambda c: int(c["position"]))
        self.early = list(self.findings)
        self.findings = []
        self.running, self.count = GENESIS, 0
        self.recorded, self.recorded_seq = GENESIS, 0
        self.good_position = 0
        self.last_position = 0
        self.events = 0
        self.checked = 0
        self.chain_head = 0
        self.unrecorded: list[int] = []  # events with no recorded chain entry
        self.mismatched: list[tuple[int, bytes]] = []
        self.balances: dict[str, int] = {}
        self.wallets: dict[str, int] = {}
        self.problems: list[str] = []

    def add(self, kind: str, position: int, detail: str, early: bool = False) -> None:
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
                inside = [
                    f["position"] for f in self.findings if f["position"] > self.good_position
                ]
                explained = any(p <= position for p in inside)
                self.add(
                    "checkpoint_mismatch",
                    min(inside) if explained else self.good_position + 1,
                    f"the log up to position {position} does not match its checkpoint",
                )

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
        position = line["position"]
        self.settle(position)
        if line.get("event") is None and line.get("missing"):
            self.recorded_row(line)
            self.add("deleted", position, f"the event recorded at position {position} is gone")
            return
        state = base64.b64decode(line["state"])
        decoded = decode(state)
        stamp = timestamp_of(decoded)
        digest = event_hash(line["id"], int(line["version"]), line["topic"], stamp, state)
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
            wallet = str(uuid.UUID(line["id"]))
            amount = state.get("amount")
            if not isinstance(amount, int):
                self.problems.append(f"position {line['position']}: a wallet event without amount")
                return
            self.wallets[wallet] = self.wallets.get(wallet, 0) + sign * amount
        elif topic == "kvit.wallet.opened":
            self.wallets.setdefault(str(uuid.UUID(line["id"])), 0)

    def finish(self, recorded_at: dict[str, int]) -> None:
        self.settle(0, end=True)
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
        self.findings = sorted(self.early + self.findings, key=lambda f: f["position"])


def load_checkpoints(directory: Path, extra: list[Path]) -> list[dict]:
    found: list[dict] = []
    for path in [directory / "checkpoints.jsonl", directory / "checkpoint.json", *extra]:
        if not path.exists():
            continue
        text = path.read_text().strip()
        try:
            items = [json.loads(text)]
        except json.JSONDecodeError:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        found += items
    unique = {(str(c.get("position")), str(c.get("signature"))): c for c in found}
    return list(unique.values())


def check(directory: Path, public_key: str | None = None, extra: list[Path] = ()) -> dict:
    checkpoints = load_checkpoints(directory, list(extra))
    walk = Check(checkpoints, public_key)
    events_file = directory / "events.jsonl"
    with events_file.open(encoding="utf-8") as lines:
        for text in lines:
            if text.strip():
                walk.line(json.loads(text))
    recorded_at: dict[str, int] = {}
    if walk.mismatched:
        wanted = {d.hex() for _, d in walk.mismatched[:MAX_LOOKUPS]}
        with events_file.open(encoding="utf-8") as lines:
            for text in lines:
                line = json.loads(text)
                if line.get("event_hash") in wanted:
                    recorded_at.setdefault(line["event_hash"], line["position"])
    walk.finish(recorded_at)
    problems = list(walk.problems)
    total = sum(walk.balances.values())
    if total != 0:
        problems.append(f"the postings sum to {total}, not zero")
    for wallet, amount in sorted(walk.wallets.items()):
        posted = -walk.balances.get(f"wallet:{wallet}", 0)
        if posted != amount:
            problems.append(f"wallet {wallet}: {amount} from its events, {posted} from postings")
        if amount < 0:
            problems.append(f"wallet {wallet} is below zero: {amount}")
    return {
        "events": walk.events,
        "last_position": walk.last_position,
        "chain_head": walk.chain_head,
        "unchained": walk.unchained,
        "checkpoints": walk.checked,
        "public_key_pinned": public_key is not None,
        "findings": walk.findings,
        "balances": dict(sorted(walk.balances.items())),
        "wallets": dict(sorted(walk.wallets.items())),
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--public-key", help="the Ed25519 key (hex) the checkpoints must carry")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="a checkpoint file you kept yourself (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not (args.directory / "events.jsonl").exists():
        print(f"no events.jsonl in {args.directory}", file=sys.stderr)
        return 2
    result = check(args.directory, args.public_key, args.checkpoint)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(
            f"{result['events']} events up to position {result['last_position']};"
            f" chain recorded up to {result['chain_head']};"
            f" {result['checkpoints']} checkpoint(s) checked"
            + (
                ""
                if result["public_key_pinned"]
                else " (key taken from the checkpoints: pass --public-key to pin it)"
            )
        )
        if result["unchained"]:
            print(f"{result['unchained']} newer event(s) were not chained yet")
        for finding in result["findings"]:
            print(
                f"FINDING at position {finding['position']}: {finding['kind']}: {finding['detail']}"
            )
        balances = result["balances"]
        print(f"trial balance: {len(balances)} ledger accounts, sum {sum(balances.values())}")
        width = max((len(name) for name in balances), default=0)
        for name, amount in balances.items():
            print(f"  {name:<{width}} {amount:>14,}")
        for problem in result["problems"]:
            print(f"PROBLEM: {problem}")
        print("OK" if not result["findings"] and not result["problems"] else "FAILED")
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
