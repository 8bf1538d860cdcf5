"""A witness (C2SP tlog-witness's job, done as a follower): it keeps the last checkpoint of a
log it verified, and cosigns a newer one only if a consistency proof shows that the newer tree
extends the older. A log that shows one history to some and another to others (a fork) or
that shrinks (a rollback) is refused, and the witness remembers nothing new.

    state file   the last cosigned checkpoint body (origin, size, root hash), nothing else
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle
from audit.note import Checkpoint, NoteError, Verifier, cosign, open_checkpoint, parse_checkpoint

ConsistencyProof = Callable[[int, int], list[bytes]]
"""(first, second) -> the log's consistency proof between those sizes."""


class InconsistentLogError(RuntimeError):
    """The log's new checkpoint does not extend the last one this witness saw."""


@dataclass(frozen=True)
class Cosigned:
    checkpoint: Checkpoint
    line: str
    """The cosignature line to add under the checkpoint's signatures."""
    previous: Checkpoint | None


@dataclass
class Witness:
    name: str
    key: Ed25519PrivateKey
    log: Verifier
    state: Path

    def last(self) -> Checkpoint | None:
        if not self.state.exists():
            return None
        return parse_checkpoint(self.state.read_text())

    def observe(self, signed: str, proof: ConsistencyProof, at: int | None = None) -> Cosigned:
        """Verify a signed checkpoint and its consistency with the last one; cosign it."""
        checkpoint, _ = open_checkpoint(signed, self.log)
        if checkpoint.extensions:
            raise NoteError("a checkpoint with extension lines is not cosigned")
        previous = self.last()
        if previous is not None:
            check_consistent(previous, checkpoint, proof)
        line = cosign(checkpoint.body(), self.name, self.key, at)
        if previous is None or checkpoint.size > previous.size:
            temporary = self.state.with_suffix(".tmp")
            temporary.write_text(checkpoint.body())
            temporary.replace(self.state)
        return Cosigned(checkpoint, line, previous)


def check_consistent(old: Checkpoint, new: Checkpoint, proof: ConsistencyProof) -> None:
    if new.origin != old.origin:
        raise InconsistentLogError(f"the origin changed from {old.origin} to {new.origin}")
    if new.size < old.size:
        raise InconsistentLogError(
            f"the log shrank from {old.size} to {new.size} leaves: a rollback"
        )
    found = [] if new.size == old.size else proof(old.size, new.size)
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, found):
        raise InconsistentLogError(
            f"the tree of {new.size} leaves does not extend the one of {old.size} this witness"
            " cosigned: the log shows another history (a fork)"
        )


def decode_proof(hashes: list[str]) -> list[bytes]:
    return [base64.b64decode(h, validate=True) for h in hashes]
