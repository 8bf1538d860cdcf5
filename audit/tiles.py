"""The tree as C2SP tlog-tiles, and proofs from the stored tree.

    /tile/<L>/<N>[.p/<W>]        hashes of tree level 8·L, indices 256·N … 256·N + W - 1
    /tile/entries/<N>[.p/<W>]    entries 256·N …, each a big-endian u16 length and the bytes
    <N>                          3-digit path elements, all but the last prefixed "x":
                                 1234067 → x001/x234/067

A tile is full at width 256 and partial below it; either never changes once it exists (a
partial tile is only ever superseded by a wider one), so both are served as immutable. The
stored levels (audit/store.py) are exactly the tiles' rows, so every tile is one range query;
any other node is recomputed from at most 255 stored hashes below it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application

from audit import merkle
from audit.encoding import EntryError, canonical
from audit.store import TILE_HEIGHT, AuditStore
from storage.log import read_stored

WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY = 0xFFFF
_INDEX = r"(?:x\d{3}/)*\d{3}"
TILE_PATH = re.compile(
    rf"tile/(?P<level>\d{{1,2}})/(?P<index>{_INDEX})(?:\.p/(?P<width>\d{{1,3}}))?"
)
ENTRIES_PATH = re.compile(rf"tile/entries/(?P<index>{_INDEX})(?:\.p/(?P<width>\d{{1,3}}))?")


class TileNotFoundError(LookupError):
    """No such tile in the tree of this size (yet)."""


class EntryTooLargeError(ValueError):
    """An entry longer than a bundle's u16 length prefix can say."""


def encode_index(index: int) -> str:
    text = f"{index:03d}"
    text = "0" * (-len(text) % 3) + text
    groups = [text[i : i + 3] for i in range(0, len(text), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int, index: int, width: int = WIDTH) -> str:
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def entries_path(index: int, width: int = WIDTH) -> str:
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/entries/{encode_index(index)}{suffix}"


def parse_index(text: str) -> int:
    return int(text.replace("x", "").replace("/", ""))


def parse_width(text: str | None) -> int:
    if text is None:
        return WIDTH
    width = int(text)
    if not 1 <= width < WIDTH or text != str(width):
        raise TileNotFoundError("a partial tile's width is 1 to 255")
    return width


def tile(store: AuditStore, size: int, level: int, index: int, width: int) -> bytes:
    """The tile's hashes, if the tree of `size` leaves has that many at that level."""
    height = level * TILE_HEIGHT
    start = index * WIDTH
    if level > 63 or start + width > size >> height:
        raise TileNotFoundError(f"tile {tile_path(level, index, width)} is not in the tree")
    hashes = store.tree_hashes(height, start, start + width)
    if len(hashes) != width:
        raise TileNotFoundError(f"tile {tile_path(level, index, width)} is not stored")
    return b"".join(hashes)


def perfect_from(store: AuditStore) -> merkle.Perfect:
    """`perfect(level, index)` over the stored tree, reading each tile once."""
    cache: dict[tuple[int, int], list[bytes]] = {}

    def row(height: int, tile_index: int) -> list[bytes]:
        key = (height, tile_index)
        if key not in cache:
            start = tile_index * WIDTH
            cache[key] = store.tree_hashes(height, start, start + WIDTH)
        return cache[key]

    def perfect(level: int, index: int) -> bytes:
        height = level - level % TILE_HEIGHT
        span = 1 << (level - height)
        first = index * span  # at the stored level below
        hashes = row(height, first // WIDTH)[first % WIDTH : first % WIDTH + span]
        if len(hashes) != span:
            raise TileNotFoundError(f"node {level}/{index} is not in the stored tree")
        return merkle.subtree_root(hashes)

    return perfect


def proof_source(store: AuditStore, size: int) -> Callable[[int, int], bytes]:
    """Like `perfect_from`, refusing any node outside the tree of `size` leaves."""
    if size > store.tree_size():
        raise TileNotFoundError(f"the tree has fewer than {size} leaves")
    return perfect_from(store)


def entries_bundle(
    app: Application[UUID], store: AuditStore, size: int, index: int, width: int
) -> bytes:
    """Entries 256·index … as a bundle: each event's canonical bytes, length-prefixed."""
    start = index * WIDTH
    if start + width > size:
        raise TileNotFoundError(f"bundle {entries_path(index, width)} is not in the tree")
    rows = store.query(
        f"SELECT position, timestamp FROM {store.name('audit_chain')}"
        " WHERE seq > %s AND seq <= %s ORDER BY seq",
        [start, start + width],
    )
    if len(rows) != width:
        raise TileNotFoundError(f"bundle {entries_path(index, width)} is not chained")
    events = read_stored(app, after=rows[0][0] - 1, limit=4 * width + 100, stop=rows[-1][0])
    by_position = {e.position: e for e in events}
    out = bytearray()
    for position, stamp in rows:
        e = by_position.get(position)
        if e is None:
            raise TileNotFoundError(f"the event at position {position} is gone")
        try:
            entry = canonical(e.originator_id, e.version, e.topic, stamp, e.state)
        except EntryError as error:
            raise TileNotFoundError(f"the event at position {position}: {error}") from None
        if len(entry) > MAX_ENTRY:
            raise EntryTooLargeError(f"the entry at position {position} is {len(entry)} bytes")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def split_bundle(bundle: bytes) -> list[bytes]:
    entries, at = [], 0
    while at < len(bundle):
        (length,) = struct.unpack_from(">H", bundle, at)
        entries.append(bundle[at + 2 : at + 2 + length])
        at += 2 + length
    return entries
