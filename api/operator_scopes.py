"""Which bank or supplier a scoped operator acts for, and the checks that keep it there.

A bank operator's token names its БИК and a supplier operator's its ИНН (api/auth.py); the
unscoped operator, and the auditor for reads, act for every bank and supplier. Outside its
scope a scoped operator gets 403 `out_of_scope`, the same answer whether the other's thing
exists or not: OrderIDs and account numbers are guessable, and their ids are derived from
them, so a 404 beside a 403 would tell one bank what another has posted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Query

from api.auth import Caller, Role
from api.deps import NoticePosterDep
from api.problems import ApiProblem
from ledger.application import Ledger
from ledger.domain import Supplier
from ledger.errors import NotFoundError

T = TypeVar("T")
BANK_QUERY = "the posting bank's БИК (default: a bank operator's own, else the OrderID's)"


class OutOfScopeProblem(ApiProblem):
    status, code, title = 403, "out_of_scope", "Outside this operator's bank or supplier"


def out_of_scope(caller: Caller) -> OutOfScopeProblem:
    if caller.role == Role.BANK:
        return OutOfScopeProblem(
            f"this operator acts for bank {caller.bank_bik} only", bank_bik=caller.bank_bik
        )
    return OutOfScopeProblem(
        f"this operator acts for supplier {caller.supplier_inn} only",
        supplier_inn=caller.supplier_inn,
    )


def require_in_scope(
    caller: Caller, *, bank_bik: str | None = None, supplier_id: UUID | str | None = None
) -> None:
    """A scoped caller may go on only for its own bank (`bank_bik`) or supplier
    (`supplier_id`); None (a thing that does not exist) is nobody's."""
    if caller.role == Role.BANK:
        if bank_bik is None or bank_bik != caller.bank_bik:
            raise out_of_scope(caller)
    elif caller.role == Role.SUPPLIER:
        assert caller.supplier_inn is not None  # api/auth.py refuses a token without one
        if supplier_id is None or str(supplier_id) != str(Supplier.id_for(caller.supplier_inn)):
            raise out_of_scope(caller)


def supplier_owned(caller: Caller, read: Callable[[], T], supplier_of: Callable[[T], UUID]) -> T:
    """`read()`'s thing; for a supplier operator only if it is its supplier's, and a thing
    that does not exist is then out of scope too, not a 404."""
    if caller.role != Role.SUPPLIER:
        return read()
    try:
        found = read()
    except NotFoundError:
        raise out_of_scope(caller) from None  # an unknown thing belongs to no supplier
    require_in_scope(caller, supplier_id=supplier_of(found))
    return found


def require_account_in_scope(caller: Caller, ledger: Ledger, account_id: UUID) -> None:
    """Before a write to an account: a supplier operator's must be its supplier's."""
    if caller.role == Role.SUPPLIER:
        supplier_owned(caller, lambda: ledger.get_account(account_id), lambda a: a.supplier_id)


async def posting_bank_query(
    caller: NoticePosterDep,
    bank: Annotated[str | None, Query(description=BANK_QUERY)] = None,
) -> str | None:
    """`?bank=` as the notice routes read it. A bank operator posts as its own bank, always:
    another БИК is out of scope, and without one its own is used, never an OrderID's."""
    if caller.role != Role.BANK:
        return bank
    if bank is not None and bank.strip() != caller.bank_bik:
        raise out_of_scope(caller)
    return caller.bank_bik


PostingBankDep = Annotated[str | None, Depends(posting_bank_query)]
