"""Embedded mode (SQLite, or in memory): the projections run in the server's own process.

A daemon thread follows the log and applies it; it is woken at once by `wake()` (called when
a read waits for a position, or by the API after a write) and otherwise re-checks the log every
`IDLE` seconds, which also picks up events written by other processes (e.g. a CLI command).
"""

from __future__ import annotations

import logging
import threading

from projections.projector import Projector
from projections.tracking import TrackingConflictError

IDLE = 0.25
log = logging.getLogger(__name__)


class EmbeddedFollower(threading.Thread):
    def __init__(self, projector: Projector) -> None:
        super().__init__(name="kvit-projections", daemon=True)
        self.projector = projector
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.errors = 0

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                if self._catch_up():
                    self._wake.wait(IDLE)
        finally:
            self.projector.close()

    def _catch_up(self) -> bool:
        """Apply everything there is; True when the log is exhausted (time to wait)."""
        try:
            while not self._stopping.is_set():
                if not self.projector.step().full:
                    return True
        except TrackingConflictError as conflict:
            log.info("%s; resuming from the new position", conflict)
            return False
        except Exception:
            self.errors += 1
            log.exception("projection step failed; retrying")
            self._stopping.wait(min(5.0, 0.05 * 2 ** min(self.errors, 6)))
            return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
