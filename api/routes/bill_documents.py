"""A bill as the payment document (ПД) a resident checks before paying: its lines, and the
recipient's current requisites. The account view lists bills without lines (the read models do
not keep them); this reads the bill and the supplier from the write side, one bill at a time."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from fastapi import APIRouter

from api.account_access import visible_account
from api.auth import Role
from api.deps import CallerDep, LedgerDep, MinPositionDep, ReadDep
from api.problems import NotFoundProblem, responses
from api.schemas.accounts import BillDocument, BillLineOut
from api.schemas.payments import RecipientOut
from ledger.qr.bill import bill_qr_payment
from ledger.qr.payload import build_payload

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get(
    "/{account_id}/bills/{bill_id}",
    response_model=BillDocument,
    responses=responses(403, 404, 422, 503),
)
def get_bill(
    account_id: UUID,
    bill_id: UUID,
    caller: CallerDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    min_position: MinPositionDep = 0,
) -> BillDocument:
    """The bill with its lines and the recipient's requisites as they are now (a payment fixes
    them when it is created). Operators, auditors, and residents who linked the account."""
    balance = visible_account(read_models, caller, account_id, min_position)
    # Lines are personal data: only payers who see the account in full see them. With proof of
    # possession (issue 9) that is the proven payers; before it, every linked payer.
    full = getattr(balance, "proven_payer_ids", balance.payer_ids)
    state = next((b for b in balance.bills if b.bill_id == str(bill_id)), None)
    if caller.role == Role.RESIDENT and caller.payer_id not in full:
        state = None
    if state is None:
        raise NotFoundProblem(f"no bill {bill_id} on this account", bill_id=str(bill_id))
    bill = ledger.get_bill(bill_id)
    supplier = ledger.get_supplier(UUID(balance.supplier_id))
    return BillDocument(
        id=bill_id,
        account_id=account_id,
        account_number=balance.account_number,
        document_id=bill.document_id,
        uin=bill.uin,
        period=bill.period,
        due_date=bill.due_date,
        lines=[BillLineOut(service=li["service"], amount=li["amount"]) for li in bill.lines],
        amount_due=state.amount_due,
        paid=state.paid,
        status=state.status,
        replaces=state.replaces,
        replaced_by=state.replaced_by,
        recipient=RecipientOut(**supplier.recipient()),
        qr_payload=build_payload(
            ledger.read(partial(bill_qr_payment, document_id=bill.document_id))
        ),
        as_of=balance.as_of,
    )
