"""Import a bank's notice register: streamed, in batches of one transaction each.

Each line ends as exactly one of: accepted, duplicate (the same notice was imported before, by
this file or another), conflict (the same bank and OrderID with other content), rejected (with
its reason), or annulled. A bad line never blocks the good ones: every batch keeps each
command's own outcome or error (ledger/engine/batch.py). A re-sent file is all duplicates, and two
imports of overlapping files end as one would, because a notice's id is its natural key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ledger.errors import EmptyRegisterError, LedgerError, NoticeConflictError
from ledger.notices.bulk import collector_paused
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.file import read_register
from ledger.notices.handlers import bank_of
from ledger.notices.line import NoticeLine, RejectedLine

BATCH_LINES = 2000  # one transaction per this many lines: the event store's sweet spot
KEPT_REJECTS = 100  # what a summary carries; all of them go to `on_reject` (a file)
OUTCOMES = ("accepted", "duplicates", "conflicts", "rejected", "annulled")


class BatchRunner(Protocol):
    def execute_batch(self, commands: Any) -> list[Any]: ...


@dataclass
class ImportSummary:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    annulled: int = 0
    seconds: float = 0.0
    position: int = 0
    """The log position that includes every line written: wait for it to read the import."""
    rejects: list[RejectedLine] = field(default_factory=list)
    """The first `KEPT_REJECTS` rejected or conflicting lines (memory stays flat)."""
    on_reject: Callable[[RejectedLine], None] | None = None

    def reject(self, line: RejectedLine, *, conflict: bool = False) -> None:
        if conflict:
            self.conflicts += 1
        else:
            self.rejected += 1
        if len(self.rejects) < KEPT_REJECTS:
            self.rejects.append(line)
        if self.on_reject is not None:
            self.on_reject(line)

    @property
    def lines(self) -> int:
        return sum(getattr(self, name) for name in OUTCOMES)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {name: getattr(self, name) for name in OUTCOMES}
        return counts | {"seconds": round(self.seconds, 3), "position": self.position}


def import_register(
    ledger: BatchRunner,
    stream: IO[bytes],
    *,
    bank_bik: str | None = None,
    batch_lines: int = BATCH_LINES,
    on_batch: Callable[[ImportSummary, int], None] | None = None,
    on_reject: Callable[[RejectedLine], None] | None = None,
) -> ImportSummary:
    """Import every line of `stream`; `bank_bik` names the posting bank (else each OrderID's).
    A register with no line at all is an `EmptyRegisterError`: nothing to import is a mistake.

    `on_batch(summary, bytes_read)` is called after each batch, for a progress bar, and
    `on_reject(line)` for every rejected or conflicting line, to write the rejects file.
    """
    started = time.perf_counter()
    summary = ImportSummary(on_reject=on_reject)
    chunks = _chunks(read_register(stream), batch_lines)
    while True:
        with collector_paused():
            chunk = next(chunks, None)
            if chunk is None:
                break
            _import_chunk(ledger, chunk, summary, bank_bik)
        if on_batch is not None:
            on_batch(summary, stream.tell())
    if not summary.lines:
        raise EmptyRegisterError("the register is empty: it has no notice lines to import")
    summary.seconds = time.perf_counter() - started
    return summary


def _import_chunk(
    ledger: BatchRunner,
    chunk: list[NoticeLine | RejectedLine],
    summary: ImportSummary,
    bank_bik: str | None,
) -> None:
    commands: list[Any] = []
    lines: list[NoticeLine] = []
    for line in chunk:
        if isinstance(line, RejectedLine):
            summary.reject(line)
            continue
        bank = bank_bik or bank_of(line.order_id)
        if bank is None:
            summary.reject(_rejected(line, "unknown_bank", "give the posting bank's БИК"))
            continue
        lines.append(line)
        commands.append(command_for(line, bank))
    if commands:
        _tally(summary, lines, ledger.execute_batch(commands))


def command_for(line: NoticeLine, bank_bik: str) -> ReceiveNotice | AnnulNotice:
    if line.action == "annul":
        return AnnulNotice(
            bank_bik=bank_bik, order_id=line.order_id, annul_date=line.order_date.isoformat()
        )
    return ReceiveNotice(bank_bik=bank_bik, line=line)


def _tally(summary: ImportSummary, lines: list[NoticeLine], items: list[Any]) -> None:
    for line, item in zip(lines, items, strict=True):
        error: LedgerError | None = item.error
        if error is None:
            outcome = item.outcome.result["outcome"]
            summary.position = max(summary.position, item.outcome.position)
            if outcome == "duplicate":
                summary.duplicates += 1
            elif outcome == "annulled":
                summary.annulled += 1
            else:
                summary.accepted += 1
        else:
            conflict = isinstance(error, NoticeConflictError)
            summary.reject(_rejected(line, error.code, error.message), conflict=conflict)


def _rejected(line: NoticeLine, code: str, reason: str) -> RejectedLine:
    return RejectedLine(line.line_no, line.order_id, code, reason, "")


def _chunks(
    items: Iterable[NoticeLine | RejectedLine], size: int
) -> Iterator[list[NoticeLine | RejectedLine]]:
    chunk: list[NoticeLine | RejectedLine] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
