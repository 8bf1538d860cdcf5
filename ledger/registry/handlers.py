"""The handlers of the registry's commands: suppliers, personal accounts and bills (no money
moves here).

One function per command (`ledger/registry/commands.py`), each reading its command, whose
identifiers are already parsed, in one unit of work.
"""

from __future__ import annotations

from uuid import UUID

from ledger.domain import Bill, PersonalAccount, Supplier
from ledger.domain.bill import BillLine
from ledger.domain.els_index import ElsIndex
from ledger.domain.text import ADDRESS, SERVICE, SUPPLIER_NAME
from ledger.engine.command import Handlers
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
from ledger.registry.commands import (
    ChangeSupplierRequisites,
    ConfirmPayer,
    IssueBill,
    IssueBillResult,
    LinkPayer,
    OpenAccount,
    OpenAccountResult,
    PayerLinkResult,
    RegisterSupplier,
    SupplierResult,
    WithdrawBill,
    WithdrawBillResult,
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


def register_supplier(cmd: RegisterSupplier, uow: UnitOfWork) -> SupplierResult:
    inn = cmd.inn
    if uow.find(Supplier, Supplier.id_for(inn)) is not None:
        raise SupplierAlreadyRegisteredError(
            f"a supplier with ИНН {inn} is already registered",
            inn=inn,
            supplier_id=str(Supplier.id_for(inn)),
        )
    supplier = uow.add(
        Supplier(
            inn=inn,
            kpp=cmd.kpp,
            name=SUPPLIER_NAME.parse(cmd.supplier_name),
            requisites=cmd.requisites.as_dict(),
        )
    )
    return {"supplier_id": str(supplier.id)}


def change_supplier_requisites(cmd: ChangeSupplierRequisites, uow: UnitOfWork) -> SupplierResult:
    supplier = get_supplier(uow, cmd.supplier_id)
    supplier.change_requisites(cmd.requisites)
    return {"supplier_id": str(supplier.id)}


def open_account(cmd: OpenAccount, uow: UnitOfWork) -> OpenAccountResult:
    account_number, els = cmd.account_number, cmd.els
    supplier = get_supplier(uow, cmd.supplier_id)
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
            address=ADDRESS.parse(cmd.address),
        )
    )
    if els is not None:
        index = uow.find(ElsIndex, ElsIndex.id_for(els)) or uow.add(ElsIndex(els=els))
        index.add(account.id)
    return {"account_id": str(account.id)}


def link_payer(cmd: LinkPayer, uow: UnitOfWork) -> PayerLinkResult:
    """Link a payer; the ИПД of one of the account's current bills proves possession (nothing
    an unproven link shows can: issue 16). A wrong ИПД is an error (and links nothing); no
    proof links unproven."""
    account = find_account_by_number(uow, cmd.supplier_inn, cmd.account_number)
    proof = None
    if cmd.document_id is not None:
        if not account.proves(bill_id=Bill.id_for(cmd.document_id)):
            raise LinkProofMismatchError(
                "this ИПД is not on any current bill of the account", field="document_id"
            )
        proof = "document_id"
    account.link_payer(cmd.payer_id, proof)
    return {"account_id": str(account.id), "proven": account.is_proven(cmd.payer_id)}


def confirm_payer(cmd: ConfirmPayer, uow: UnitOfWork) -> PayerLinkResult:
    """An operator confirms that the payer holds the account (e.g. after checking a contract)."""
    account = get_account(uow, cmd.account_id)
    account.link_payer(cmd.payer_id, "operator")
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


def issue_bill(cmd: IssueBill, uow: UnitOfWork) -> IssueBillResult:
    document_id, replaces = cmd.document_id, cmd.replaces
    account = get_account(uow, cmd.account_id)
    amount_due = check_lines(cmd.lines)
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
            uin=cmd.uin,
            period=cmd.period,
            lines=[{**line, "service": SERVICE.parse(line["service"])} for line in cmd.lines],
            amount_due=amount_due,
            due_date=cmd.due_date,
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


def withdraw_bill(cmd: WithdrawBill, uow: UnitOfWork) -> WithdrawBillResult:
    bill = get_bill(uow, cmd.bill_id)
    bill.withdraw(reason=cmd.reason)
    get_account(uow, bill.account_id).withdraw_bill(bill_id=bill.id)
    return {"bill_id": str(bill.id)}


HANDLERS = Handlers()
HANDLERS.add(RegisterSupplier, register_supplier)
HANDLERS.add(ChangeSupplierRequisites, change_supplier_requisites)
HANDLERS.add(OpenAccount, open_account)
HANDLERS.add(LinkPayer, link_payer)
HANDLERS.add(ConfirmPayer, confirm_payer)
HANDLERS.add(IssueBill, issue_bill)
HANDLERS.add(WithdrawBill, withdraw_bill)
