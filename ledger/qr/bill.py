"""The payment QR code a bill carries: its supplier's requisites, account, period and what is due.

The amount is what the resident is shown as due on the bill now (the account's one allocation
rule), so scanning an old printout after a partial payment asks only for the rest. A bill that
has nothing due gets no `Sum`: the payer's bank app then asks for the amount.
"""

from __future__ import annotations

from ledger.domain import Bill, PersonalAccount, Supplier
from ledger.domain.identifiers import parse_document_id
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import UnknownBillError
from ledger.payments.handlers import amount_due
from ledger.qr.payload import QrPayment


def bill_qr_payment(uow: UnitOfWork, document_id: str) -> QrPayment:
    document_id = parse_document_id(document_id)
    bill = uow.find(Bill, Bill.id_for(document_id))
    if bill is None:
        raise UnknownBillError(f"no bill {document_id}", document_id=document_id)
    account = uow.find(PersonalAccount, bill.account_id)
    supplier = None if account is None else uow.find(Supplier, account.supplier_id)
    if account is None or supplier is None:  # pragma: no cover - a bill has both, always
        raise UnknownBillError(f"no bill {document_id}", document_id=document_id)
    period = f"{bill.period[5:7]}.{bill.period[:4]}"
    due = 0 if bill.withdrawn else amount_due(uow, account, bill.id)
    return QrPayment(
        name=supplier.name,
        settlement_account=supplier.requisites["settlement_account"],
        bank_name=supplier.requisites["bank_name"],
        bik=supplier.requisites["bik"],
        correspondent_account=supplier.requisites.get("correspondent_account"),
        inn=supplier.inn,
        kpp=supplier.kpp,
        amount=due or None,
        purpose=f"Оплата ЖКУ за {period}, ИПД {document_id}",
        account_number=account.account_number,
        period=bill.period,
        document_id=document_id,
    )
