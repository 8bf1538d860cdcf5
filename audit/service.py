"""The audit operations as the CLI, the API and the followers run them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit import merkle
from audit.chain import catch_up
from audit.note import ED25519, Verifier, checkpoint_body, raw_public, sign_note
from audit.signing import (
    AuditSettings,
    as_record,
    make_checkpoint,
    signing_key,
    trusted_public_key,
)
from audit.store import AuditStore, ChainRow
from audit.tiles import perfect_from


class EmptyLogError(RuntimeError):
    pass


def sign_head(settings: AuditSettings, store: AuditStore, head: ChainRow) -> dict[str, Any]:
    """Sign a checkpoint at `head`: the chain's (JSON) and the tree's (a signed note) of the
    same size, and keep both."""
    key = signing_key(settings)
    checkpoint = make_checkpoint(key, head)
    tree_root = merkle.root(head.seq, perfect_from(store))
    body = checkpoint_body(settings.origin, head.seq, tree_root)
    store.put_note(head.seq, sign_note(body, settings.origin, key))
    store.add_checkpoint(checkpoint)
    return checkpoint


def log_verifier(settings: AuditSettings) -> Verifier:
    """The note verifier key of this deployment's log (its origin and public key)."""
    return Verifier(settings.origin, ED25519, raw_public(signing_key(settings)))


def checkpoint_now(
    app: Application[UUID], store: AuditStore, settings: AuditSettings
) -> dict[str, Any]:
    """Catch the chain up with the log, then sign a checkpoint at its head."""
    store.ensure_tables()
    head = catch_up(app, store).head
    if head is None:
        raise EmptyLogError("the log is empty: nothing to sign")
    existing = store.checkpoints(at_or_after=head.position)
    if existing and existing[0]["position"] == head.position:
        return as_record(existing[0])
    return sign_head(settings, store, head)


def latest_checkpoint(store: AuditStore) -> dict[str, Any] | None:
    found = store.checkpoints()
    return as_record(found[-1]) if found else None


def trusted_verifier(settings: AuditSettings, given: str | None = None) -> Verifier | None:
    """The log key tree checkpoints must be signed with: given > from the trusted public key."""
    if given:
        return Verifier.parse(given)
    public = trusted_public_key(settings)
    return Verifier(settings.origin, ED25519, bytes.fromhex(public)) if public else None
