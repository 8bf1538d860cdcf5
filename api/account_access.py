"""What a caller may see of a personal account: a resident only accounts linked to them, and
their personal data only once the link is proven; a supplier's operator only its supplier's
accounts; the unscoped operator and auditors every account; a bank's operator none."""

from __future__ import annotations

from uuid import UUID

from api.auth import Caller, Role, require
from api.masking import mask_address
from api.operator_scopes import require_in_scope
from api.problems import NotFoundProblem
from api.schemas.accounts import AccountOut, BalanceOut, BillOut
from projections import queries
from projections.read_models import ReadModels
from projections.results import AccountBalance


def account_out(balance: AccountBalance, *, limited: bool = False) -> AccountOut:
    """`limited`: for a payer whose link is not proven, a masked address and what is due."""
    if limited:
        return AccountOut(
            id=balance.account_id,
            supplier_id=balance.supplier_id,
            supplier_inn=balance.supplier_inn,
            account_number=balance.account_number,
            els=None,
            address=mask_address(balance.address),
            balance=BalanceOut(
                accrued=None, paid=None, refunded=None, due=balance.due, advance=None
            ),
            bills=[],
            as_of=balance.as_of,
            access="limited",
        )
    return AccountOut(
        id=balance.account_id,
        supplier_id=balance.supplier_id,
        supplier_inn=balance.supplier_inn,
        account_number=balance.account_number,
        els=balance.els,
        address=balance.address,
        balance=BalanceOut(
            accrued=balance.accrued,
            paid=balance.paid,
            refunded=balance.refunded,
            due=balance.due,
            advance=balance.advance,
        ),
        bills=[
            BillOut(
                id=b.bill_id,
                document_id=b.document_id or "",
                period=b.period or "",
                due_date=b.due_date or "",
                amount_due=b.amount_due,
                paid=b.paid,
                status=b.status,
                replaces=b.replaces,
                replaced_by=b.replaced_by,
            )
            for b in balance.bills
        ],
        as_of=balance.as_of,
    )


def visible_account(
    read_models: ReadModels, caller: Caller, account_id: UUID, min_position: int = 0
) -> AccountBalance:
    """The account, if the caller may see it. To a resident, an unlinked account is a 404; to
    a supplier's operator, another supplier's (or an unknown) account is out of scope."""
    require(caller, Role.RESIDENT, Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER)
    balance = queries.account_balance(read_models, account_id, min_position=min_position)
    require_in_scope(caller, supplier_id=None if balance is None else balance.supplier_id)
    if balance is None or (
        caller.role == Role.RESIDENT and caller.payer_id not in balance.payer_ids
    ):
        raise NotFoundProblem(f"no personal account {account_id}", account_id=str(account_id))
    return balance


def limited_for(caller: Caller, balance: AccountBalance) -> bool:
    """A resident sees an account's personal data only once their link is proven."""
    return caller.role == Role.RESIDENT and caller.payer_id not in balance.proven_payer_ids


def shown(caller: Caller, balance: AccountBalance) -> AccountOut:
    return account_out(balance, limited=limited_for(caller, balance))


def sees_bill(read_models: ReadModels, caller: Caller, document_id: str) -> bool:
    """Whether a resident already sees this bill in full, by the cached view of their accounts
    (no query: False on a miss). Asking such a bill's QR code probes nothing."""
    if caller.role != Role.RESIDENT or caller.payer_id is None:
        return False
    hit = queries.cached_accounts_of_payer(read_models, caller.payer_id)
    return hit is not None and any(
        caller.payer_id in account.proven_payer_ids
        and any(bill.document_id == document_id for bill in account.bills)
        for account in hit[0]
    )
