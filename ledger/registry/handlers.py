"""Commands on the registry side: suppliers, personal accounts and bills (no money moves here).

Each function runs inside a unit of work; inputs are already parsed identifiers.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.domain import Bill, PersonalAccount, Requisites, Supplier
from ledger.domain.bill import BillLine
from ledger.domain.els_index import ElsIndex
from ledger.domain.text import ADDRESS, SERVICE, SUPPLIER_NAME
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    AccountAlreadyOpenError,
    BillAlreadyIssuedError,
    BillStateConflictError,
    InvalidBillError,
    LinkProofMismatchError,
    SupplierAlreadyRegisteredError,
    UnknownAccountError,
    UnknownBillError,
    UnknownSupplierError,
)

MAX_BILL_LINES = 100
MAX_LINE_AMOUNT = 10**11  # a billion rubles per line is far beyond any ЖКУ bill


def get_supplier(uow: UnitOfWork, supplier_id: UUID) -> Supplier:
    supplier = uow.find(Supplier, supplier_id)
    if supplier is None:
        raise UnknownSupplierError(f"no supplier {supplier_id}", supplier_id=str(supplier_id))
    return supplier


def get_account(uow: UnitOfWork, account_id: UUID) -> PersonalAccount:
    account = uow.find(PersonalAccount, account_id)
    if account is None:
        raise UnknownAccountError(f"no personal account {account_id}", account_id=str(account_id))
    return account


def find_account_by_number(uow: UnitOfWork, supplier_inn: str, number: str) -> PersonalAccount:
    account = uow.find(PersonalAccount, PersonalAccount.id_for(supplier_inn, number))
    if account is None:
        raise UnknownAccountError(
            f"no personal account {number!r} at the supplier with ИНН {supplier_inn}",
            supplier_inn=supplier_inn,
            account_number=number,
        )
    return account


def get_bill(uow: UnitOfWork, bill_id: UUID) -> Bill:
    bill = uow.find(Bill, bill_id)
    if bill is None:
        raise UnknownBillError(f"no bill {bill_id}", bill_id=str(bill_id))
    return bill


def register_supplier(
    uow: UnitOfWork, *, inn: str, kpp: str, name: str, requisites: Requisites
) -> dict[str, Any]:
    if uow.find(Supplier, Supplier.id_for(inn)) is not None:
        raise SupplierAlreadyRegisteredError(
            f"a supplier with ИНН {inn} is already registered",
            inn=inn,
            supplier_id=str(Supplier.id_for(inn)),
        )
    supplier = uow.add(
        Supplier(inn=inn, kpp=kpp, name=SUPPLIER_NAME.parse(name), requisites=requisites.as_dict())
    )
    return {"supplier_id": str(supplier.id)}


def change_requisites(
    uow: UnitOfWork, *, supplier_id: UUID, requisites: Requisites
) -> dict[str, Any]:
    supplier = get_supplier(uow, supplier_id)
    supplier.change_requisites(requisites)
    return {"supplier_id": str(supplier.id)}


def open_account(
    uow: UnitOfWork, *, supplier_id: UUID, account_number: str, els: str | None, address: str
) -> dict[str, Any]:
    supplier = get_supplier(uow, supplier_id)
    account_id = PersonalAccount.id_for(supplier.inn, account_number)
    if uow.find(PersonalAccount, account_id) is not None:
        raise AccountAlreadyOpenError(
            f"account {account_number!r} is already open at supplier {supplier.inn}",
            account_id=str(account_id),
            account_number=account_number,
        )
    account = uow.add(
        PersonalAccount(
            supplier_id=supplier.id,
            supplier_inn=supplier.inn,
            account_number=account_number,
            els=els,
            address=ADDRESS.parse(address),
        )
    )
    if els is not None:
        index = uow.find(ElsIndex, ElsIndex.id_for(els)) or uow.add(ElsIndex(els=els))
        index.add(account.id)
    return {"account_id": str(account.id)}


def link_payer(
    uow: UnitOfWork,
    *,
    payer_id: str,
    supplier_inn: str,
    account_number: str,
    document_id: str | None = None,
) -> dict[str, Any]:
    """Link a payer; the ИПД of one of the account's current bills proves possession (nothing
    an unproven link shows can: issue 16). A wrong ИПД is an error (and links nothing); no
    proof links unproven."""
    account = find_account_by_number(uow, supplier_inn, account_number)
    proof = None
    if document_id is not None:
        if not account.proves(bill_id=Bill.id_for(document_id)):
            raise LinkProofMismatchError(
                "this ИПД is not on any current bill of the account", field="document_id"
            )
        proof = "document_id"
    account.link_payer(payer_id, proof)
    return {"account_id": str(account.id), "proven": account.is_proven(payer_id)}


def confirm_payer(uow: UnitOfWork, *, account_id: UUID, payer_id: str) -> dict[str, Any]:
    """An operator confirms that the payer holds the account (e.g. after checking a contract)."""
    account = get_account(uow, account_id)
    account.link_payer(payer_id, "operator")
    return {"account_id": str(account.id), "proven": True}


def check_lines(lines: list[BillLine]) -> int:
    """A bill has 1..100 service lines; a line may be negative (a recalculation), the total not."""
    if not 1 <= len(lines) <= MAX_BILL_LINES:
        raise InvalidBillError(f"a bill has 1–{MAX_BILL_LINES} lines", lines=len(lines))
    for line in lines:
        if not line["service"].strip() or abs(line["amount"]) > MAX_LINE_AMOUNT:
            raise InvalidBillError("each line needs a service name and a sane amount", line=line)
    total = sum(line["amount"] for line in lines)
    if total < 0:
        raise InvalidBillError(f"a bill's total cannot be negative, got {total}", total=total)
    return total


def issue_bill(
    uow: UnitOfWork,
    *,
    account_id: UUID,
    document_id: str,
    uin: str | None,
    period: str,
    lines: list[BillLine],
    due_date: str,
    replaces: UUID | None = None,
) -> dict[str, Any]:
    account = get_account(uow, account_id)
    amount_due = check_lines(lines)
    if replaces == Bill.id_for(document_id):
        raise BillStateConflictError(
            f"bill {document_id} cannot replace itself", bill_id=str(replaces)
        )
    if uow.find(Bill, Bill.id_for(document_id)) is not None:
        raise BillAlreadyIssuedError(
            f"a bill with ИПД {document_id} already exists",
            document_id=document_id,
            bill_id=str(Bill.id_for(document_id)),
        )
    bill = uow.add(
        Bill(
            account_id=account.id,
            document_id=document_id,
            uin=uin,
            period=period,
            lines=[{**line, "service": SERVICE.parse(line["service"])} for line in lines],
            amount_due=amount_due,
            due_date=due_date,
            replaces=replaces,
        )
    )
    if replaces is not None:
        old = get_bill(uow, replaces)
        if old.account_id != account.id:
            raise BillStateConflictError(
                "a bill can only be replaced by a bill of the same account",
                bill_id=str(old.id),
            )
        old.withdraw(reason="replaced", replaced_by=bill.id)
    account.add_bill(bill_id=bill.id, amount_due=amount_due, replaces=replaces)
    return {"bill_id": str(bill.id), "amount_due": amount_due}


def withdraw_bill(uow: UnitOfWork, *, bill_id: UUID, reason: str) -> dict[str, Any]:
    bill = get_bill(uow, bill_id)
    bill.withdraw(reason=reason)
    get_account(uow, bill.account_id).withdraw_bill(bill_id=bill.id)
    return {"bill_id": str(bill.id)}
