"""The audited history, as the account and payment routes show it: an account as it was at a
log position or moment (recomputed from the log), and where a payment sits in the chain."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from api.problems import ApiProblem, NotFoundProblem
from api.schemas.audit import Receipt
from audit.proof import receipt
from audit.store import AuditStore
from ledger.application import Ledger
from projections import as_of as history
from projections.results import AccountBalance


class InvalidAsOfProblem(ApiProblem):
    status, code, title = 422, "invalid_as_of", "as_of is not a log position or a time"


AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="as it was at this log position, or at this ISO 8601 time (with a zone);"
        " recomputed from the event log",
    ),
]


def parse_as_of(text: str) -> tuple[int | None, Any]:
    try:
        return history.parse_as_of(text)
    except ValueError as error:
        raise InvalidAsOfProblem(
            f"as_of must be a log position or an ISO 8601 time with a zone: {error}",
            as_of=text,
        ) from None


def resolve(ledger: Ledger, store: AuditStore | None, as_of: str) -> int:
    position, moment = parse_as_of(as_of)
    return history.resolve(ledger, store, position=position, at=moment)


def account_as_of(
    ledger: Ledger, store: AuditStore | None, account_id: UUID, as_of: str
) -> AccountBalance:
    """The personal account as it was at `as_of`, recomputed from the log."""
    upto = resolve(ledger, store, as_of)
    found = history.account_as_of(ledger, store, account_id, upto)
    if found is None:
        raise NotFoundProblem(
            f"personal account {account_id} did not exist at position {upto}",
            account_id=str(account_id),
            as_of=upto,
        )
    return found


def receipt_of(ledger: Ledger, store: AuditStore | None, payment_id: UUID) -> Receipt | None:
    if store is None:
        return None
    found = receipt(ledger, store, payment_id)
    return Receipt.model_validate(found) if found else None
