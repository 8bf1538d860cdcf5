"""What `kvit audit verify` found (audit/verify.py): findings by position, and the counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    kind: str
    position: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "position": self.position, "detail": self.detail}


@dataclass
class VerifyReport:
    events: int = 0
    """Stored events walked."""
    last_position: int = 0
    chain_head: int = 0
    """The last chained position (0: the chain was never started)."""
    unchained: int = 0
    """Events after the chain's head, not chained yet (not a finding)."""
    checkpoints: int = 0
    """Checkpoints with a good signature compared with the log."""
    tree_size: int = 0
    """Leaves of the Merkle tree recomputed from the log."""
    tree_checkpoints: int = 0
    """Signed tree checkpoints (notes) compared with the recomputed tree."""
    bulk: int = 0
    """Events checked in bulk (the rest were walked one by one: findings, or not chained)."""
    findings: list[Finding] = field(default_factory=list)
    more_findings: bool = False
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0
