"""The canonical encoding of a stored event and the chain's hash rule.

    canonical(e) = MAGIC
                   ‖ u16 len ‖ originator id (lower-case hyphenated UUID, ASCII)
                   ‖ u64 originator version
                   ‖ u16 len ‖ topic (UTF-8)
                   ‖ u16 len ‖ timestamp (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, ASCII)
                   ‖ u32 len ‖ state (the stored bytes, exactly)          (integers big-endian)
    event_hash(e)  = SHA-256(canonical(e))
    chain_n        = SHA-256(chain_{n-1} ‖ event_hash(e_n)),  chain_0 = 32 zero bytes

`e_1, e_2, …` are the stored events in notification-id (commit) order. The position itself is
not hashed: ids are not gap-free and belong to one database, while the encoding is the same on
SQLite and PostgreSQL. The state is hashed as stored, so a change that decodes to the same
values is caught too; the timestamp (kept inside the state by the library) is also encoded on
its own, which lets the chain table index the log by time verifiably. `docs/verify_export.py`
re-implements exactly this with the standard library.

The same canonical bytes are each event's *entry* in the transparency log (audit/merkle.py):
leaf hash SHA-256(0x00 ‖ canonical(e)); `kvit.event.v1` is the entry format's version.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from storage.decode import loads

MAGIC = b"kvit.event.v1\n"
GENESIS = bytes(32)
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_TOPIC_BYTES = 0xFFFF
"""The entry holds a topic's length in 16 bits."""
UNREADABLE = ""
"""The timestamp of a state that does not decode (it can only have been damaged)."""


class EntryError(ValueError):
    """A stored event that no entry can be built for: a field the entry format cannot hold
    (a negative version, a topic over 65,535 bytes, …). Kvit never writes one (its topics
    are the code's own, pinned by tests/unit/test_stored_topics.py, and versions start at 1),
    so one in the log was put there by other means."""


def canonical(
    originator_id: UUID | str, version: int, topic: str, timestamp: str, state: bytes
) -> bytes:
    """The entry's bytes; EntryError if a field does not fit the format."""
    if not isinstance(state, bytes):  # a damaged row may hold text (SQLite) or a memoryview
        state = state.encode("utf-8") if isinstance(state, str) else bytes(state)
    try:
        if type(originator_id) is str and _CANONICAL_ID.fullmatch(originator_id):
            ident = originator_id.encode("ascii")  # already the form UUID() would print
        else:
            ident = str(UUID(str(originator_id))).encode("ascii")
        topic_bytes, stamp = topic.encode("utf-8"), timestamp.encode("ascii")
        return b"".join(
            (
                MAGIC,
                struct.pack(">H", len(ident)),
                ident,
                struct.pack(">Q", version),
                struct.pack(">H", len(topic_bytes)),
                topic_bytes,
                struct.pack(">H", len(stamp)),
                stamp,
                struct.pack(">I", len(state)),
                state,
            )
        )
    except (struct.error, ValueError, TypeError, AttributeError):
        raise EntryError(entry_problem(originator_id, version, topic, timestamp, state)) from None


def entry_problem(
    originator_id: object, version: object, topic: object, timestamp: object, state: bytes
) -> str:
    """What keeps these fields from being an entry, in words."""
    if not isinstance(version, int) or not 0 <= version < 1 << 64:
        return f"its originator version {version!r} is not an unsigned 64-bit number"
    if not isinstance(topic, str):
        return f"its topic is {type(topic).__name__}, not text"
    try:
        topic_bytes = len(topic.encode("utf-8"))
    except UnicodeError:
        return "its topic is not valid UTF-8 text"
    if topic_bytes > MAX_TOPIC_BYTES:
        return f"its topic is {topic_bytes:,} bytes long (at most {MAX_TOPIC_BYTES:,})"
    if not isinstance(timestamp, str) or not timestamp.isascii() or len(timestamp) > 0xFFFF:
        return "its timestamp is not ASCII text"
    if len(state) >= 1 << 32:
        return f"its state is {len(state):,} bytes long (under 4 GiB)"
    return f"its originator id {str(originator_id)[:64]!r} is not a UUID"


def event_hash(
    originator_id: UUID | str, version: int, topic: str, timestamp: str, state: bytes
) -> bytes:
    return hashlib.sha256(canonical(originator_id, version, topic, timestamp, state)).digest()


def entry_of(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """An event's entry in the transparency log (audit/merkle.py): its canonical bytes, whose
    MAGIC line is the entry format's version."""
    return canonical(originator_id, version, topic, timestamp_of(state), state)


def chain_hash(previous: bytes, event_digest: bytes) -> bytes:
    return hashlib.sha256(previous + event_digest).digest()


def utc_text(moment: datetime) -> str:
    """Fixed width, UTC: text order is time order (the same form as the read models use)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_iso(raw: str) -> str:
    """An ISO 8601 time as the library stores it (`…+00:00`), in the canonical form."""
    if len(raw) == 32 and raw.endswith("+00:00") and raw[19] == "." and raw.isascii():
        return raw[:26] + "Z"  # the common case, without parsing
    return utc_text(datetime.fromisoformat(raw.replace("Z", "+00:00")))


def decode_state(state: bytes) -> dict[str, Any]:
    """The stored JSON state as plain JSON (library-typed values keep their `_type_` wrapper)."""
    decoded = json.loads(state)
    if not isinstance(decoded, dict):
        raise ValueError("an event's state is a JSON object")
    return decoded


def timestamp_of(state: bytes) -> str:
    """The event's timestamp from its stored state, canonical; UNREADABLE if it does not decode.

    Assumes the library's JSON transcoder without cipher or compression (Kvit configures
    neither): `{"timestamp": {"_type_": "datetime_iso", "_data_": "…"}, …}`."""
    try:
        value = loads(state)["timestamp"]  # orjson first: most of `verify`'s time is here
        raw = value["_data_"] if isinstance(value, dict) else value
        return normalise_iso(str(raw))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return UNREADABLE


def plain(value: Any) -> Any:
    """Library-typed JSON (`{"_type_": "uuid_hex", "_data_": …}`) as plain JSON values."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind == "uuid_hex":
                return str(UUID(data))
            if kind == "datetime_iso":
                return normalise_iso(data)
            return plain(data) if isinstance(data, (dict, list)) else data
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
