"""Named errors of the read side. Like ledger errors they carry a stable `code` and data (ids,
positions), never HTTP statuses; the API maps them."""

from __future__ import annotations

from typing import Any


class ReadModelError(Exception):
    code = "read_model_error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ReadModelTimeoutError(ReadModelError, TimeoutError):
    """The read models did not reach the requested position within the bounded wait."""

    code = "read_model_timeout"


class ReadModelStuckError(ReadModelTimeoutError):
    """A read model the wait needs is stuck before an event it cannot apply
    (projections/stuck.py): it would never reach the position, so the wait ends at once."""

    code = "read_model_stuck"


class InvalidCursorError(ReadModelError, ValueError):
    """A page cursor that this query did not issue (or issued for other filters)."""

    code = "invalid_cursor"


class InvalidQueryError(ReadModelError, ValueError):
    code = "invalid_query"


class ProjectionBusyError(ReadModelError):
    """Another runner holds this projection."""

    code = "projection_busy"
