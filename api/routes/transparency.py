"""The log as a transparency log: signed checkpoints, tiles, proofs, the key, cosignatures.

    /log/checkpoint, /log/tile/<L>/<N>[.p/<W>]   public, no token: hashes reveal no event
    /v1/audit/log/…                              the same for auditors and operators, plus the
                                                 entries (/tile/entries/…), which hold the events
    /v1/audit/key                                the log's note verifier key (public)
    /v1/audit/proof/inclusion|consistency        RFC 9162 proofs, base64 hashes (public)
    POST /log/cosignature                        a witness's cosignature line (KVIT_LOG_WITNESSES)

Tiles never change once they exist, so they are cached for a year as immutable; the checkpoint
changes as the log grows and is not cached.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.deps import AuditSettingsDep, ChainIfKeptDep, LedgerDep, ReaderDep, require_chain
from api.problems import NotFoundProblem, NotInTreeProblem, responses
from audit import merkle, note, tiles
from audit.service import log_verifier
from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger

IMMUTABLE = "public, max-age=31536000, immutable"
MAX_SIZE = 2**62

public = APIRouter(prefix="/log", tags=["audit"])
readers = APIRouter(prefix="/v1/audit", tags=["audit"])


def _checkpoint(store: AuditStore) -> Response:
    latest = store.latest_note()
    if latest is None:
        raise NotFoundProblem("no checkpoint has been signed yet")
    return Response(
        latest[1], media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


def _tile(ledger: Ledger | None, store: AuditStore, path: str) -> Response:
    size = store.tree_size()
    try:
        if found := tiles.TILE_PATH.fullmatch(path):
            level, index = int(found["level"]), tiles.parse_index(found["index"])
            body = tiles.tile(store, size, level, index, tiles.parse_width(found["width"]))
        elif found := tiles.ENTRIES_PATH.fullmatch(path):
            if ledger is None:
                raise NotFoundProblem("entries are served to auditors under /v1/audit/log/")
            index, width = tiles.parse_index(found["index"]), tiles.parse_width(found["width"])
            body = tiles.entries_bundle(ledger, store, size, index, width)
        else:
            raise NotFoundProblem(f"{path} is not a tile path")
    except tiles.TileNotFoundError as error:
        raise NotFoundProblem(str(error)) from None
    return Response(
        body, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )


@public.get("/checkpoint", response_class=Response, responses=responses(404, 503))
def checkpoint(store: ChainIfKeptDep) -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint, a signed note), with the
    witnesses' cosignatures."""
    return _checkpoint(require_chain(store))


@public.get("/{path:path}", response_class=Response, responses=responses(404, 503))
def public_tile(path: str, store: ChainIfKeptDep) -> Response:
    """A hash tile (C2SP tlog-tiles). Entry bundles are for auditors: /v1/audit/log/."""
    return _tile(None, require_chain(store), path)


@public.post("/cosignature", response_class=Response, responses=responses(404, 422, 503))
def add_cosignature(
    settings: AuditSettingsDep,
    store: ChainIfKeptDep,
    line: Annotated[str, Body(media_type="text/plain", max_length=1000)],
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)],
) -> Response:
    """Add a witness's cosignature line to the checkpoint of `size`: kept only if it verifies
    with one of the witness keys this deployment publishes (KVIT_LOG_WITNESSES)."""
    audit_store = require_chain(store)
    found = audit_store.notes(at_or_after=size, limit=1)
    if not found or found[0][0] != size:
        raise NotFoundProblem(f"no checkpoint of size {size}")
    line = line.strip() + "\n"
    try:
        signed = note.parse_note(found[0][1])
        alone = note.parse_note(signed.body + "\n" + line)  # judge this line by itself
    except note.NoteError as error:
        raise NotInTreeProblem(f"not a cosignature line: {error}") from None
    if len(alone.signatures) != 1 or not any(
        note.verified_by(alone, w) for w in _witnesses(settings)
    ):
        raise NotInTreeProblem("the cosignature is not by a known witness, or does not verify")
    cosigned = signed.with_signature(line)
    audit_store.put_note(size, cosigned.text())
    return Response(status_code=204)


def _witnesses(settings: AuditSettings) -> list[note.Verifier]:
    return [note.Verifier.parse(k) for k in settings.log_witnesses.split(",") if k.strip()]


@readers.get("/log/checkpoint", response_class=Response, responses=responses(403, 404, 503))
def reader_checkpoint(caller: ReaderDep, store: ChainIfKeptDep) -> Response:
    return _checkpoint(require_chain(store))


@readers.get("/log/{path:path}", response_class=Response, responses=responses(403, 404, 503))
def reader_tile(path: str, caller: ReaderDep, ledger: LedgerDep, store: ChainIfKeptDep) -> Response:
    """Hash tiles and entry bundles: each entry an event's canonical bytes (the export's
    encoding, `kvit.event.v1`)."""
    return _tile(ledger, require_chain(store), path)


@readers.get("/key", response_class=Response, responses=responses(404))
def key(settings: AuditSettingsDep) -> Response:
    """The log's key in the note verifier-key format: `<origin>+<key ID>+<base64 key>`."""
    try:
        text = log_verifier(settings).text()
    except RuntimeError:
        raise NotFoundProblem("this server holds no signing key") from None
    return Response(text + "\n", media_type="text/plain; charset=utf-8")


def _hashes(found: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in found]


@readers.get("/proof/inclusion", responses=responses(422, 503))
def inclusion(
    store: ChainIfKeptDep,
    index: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)],
) -> dict[str, object]:
    """The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3)."""
    audit_store = require_chain(store)
    if index >= size or size > audit_store.tree_size():
        raise NotInTreeProblem(f"leaf {index} of a tree of {size} is not in this log yet")
    proof = merkle.inclusion_proof(index, size, tiles.perfect_from(audit_store))
    return {"index": index, "size": size, "proof": _hashes(proof)}


@readers.get("/proof/consistency", responses=responses(422, 503))
def consistency(
    store: ChainIfKeptDep,
    first: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    second: Annotated[int, Query(ge=0, le=MAX_SIZE)],
) -> dict[str, object]:
    """The consistency proof from the tree of `first` leaves to that of `second` (§2.1.4)."""
    audit_store = require_chain(store)
    if first > second or second > audit_store.tree_size():
        raise NotInTreeProblem(f"no consistency proof from {first} to {second} in this log")
    proof = merkle.consistency_proof(first, second, tiles.perfect_from(audit_store))
    return {"first": first, "second": second, "proof": _hashes(proof)}
