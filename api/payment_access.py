"""What a caller may see of a payment: a resident their own, a supplier's operator its
supplier's (anything else out of scope), the unscoped operator and auditors every one."""

from __future__ import annotations

from uuid import UUID

from api.auth import Caller, Role, require
from api.operator_scopes import supplier_owned
from ledger.application import Ledger
from ledger.domain import Payment


def visible_payment(caller: Caller, ledger: Ledger, payment_id: UUID) -> Payment:
    require(caller, Role.RESIDENT, Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER)
    payer = caller.payer_id if caller.role == Role.RESIDENT else None
    found: Payment = supplier_owned(
        caller, lambda: ledger.get_payment(payment_id, payer_id=payer), lambda p: p.supplier_id
    )
    return found
