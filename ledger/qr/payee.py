"""Who a payment goes to, from what a resident has in hand: a bill's QR code, or the
requisites printed on any receipt (ИНН, КПП, БИК, settlement account) with the account number.

Both refuse requisites that are not the supplier's registered ones now: old requisites after
a change of management company are a classic way for money to get lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from ledger.domain import Bill, PersonalAccount, Supplier
from ledger.domain.identifiers import (
    parse_account_number,
    parse_bik,
    parse_inn,
    parse_kpp,
    parse_settlement_account,
)
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    InvalidQrPayloadError,
    RequisitesMismatchError,
    UnknownAccountError,
    UnknownBillError,
    UnknownSupplierError,
)
from ledger.qr.payload import parse_payload


@dataclass(frozen=True)
class Payee:
    """A resolved recipient: the account to pay, the bill if one is named, and the amount the
    payer was shown (None: the ledger's default, what is due)."""

    supplier_id: UUID
    supplier_name: str
    account_id: UUID
    account_number: str
    document_id: str | None
    period: str | None
    amount: int | None
    recipient: dict[str, str]
    due: int

    def view(self) -> dict[str, object]:
        return {
            "supplier_id": str(self.supplier_id),
            "supplier_name": self.supplier_name,
            "account_id": str(self.account_id),
            "account_number": self.account_number,
            "document_id": self.document_id,
            "period": self.period,
            "amount": self.amount if self.amount is not None else self.due,
            "due": self.due,
            "recipient": self.recipient,
        }


def payee_from_qr(uow: UnitOfWork, payload: str) -> Payee:
    """Resolve a scanned ГОСТ Р 56042 payload to the account and bill it pays."""
    qr = parse_payload(payload)
    if qr.inn is None:
        raise InvalidQrPayloadError(
            "QR payload refused, PayeeINN: Kvit finds the supplier by its ИНН",
            key="PayeeINN",
            reason="missing_key",
        )
    if qr.account_number is None and qr.document_id is None:
        raise InvalidQrPayloadError(
            "QR payload refused, PersAcc: neither the account number nor an ИПД is given",
            key="PersAcc",
            reason="missing_key",
        )
    supplier = _supplier(uow, qr.inn)
    check_requisites(
        supplier,
        {
            "kpp": qr.kpp,
            "bik": qr.bik,
            "settlement_account": qr.settlement_account,
            "correspondent_account": qr.correspondent_account,
        },
    )
    return _payee(uow, supplier, qr.account_number, qr.document_id, qr.period, qr.amount)


def payee_from_requisites(
    uow: UnitOfWork,
    *,
    inn: str,
    kpp: str | None,
    bik: str,
    settlement_account: str,
    account_number: str,
) -> Payee:
    """Pay without a bill, by the supplier's requisites as printed on a receipt."""
    bik = parse_bik(bik)
    supplier = _supplier(uow, parse_inn(inn))
    check_requisites(
        supplier,
        {
            "kpp": parse_kpp(kpp) if kpp else None,
            "bik": bik,
            "settlement_account": parse_settlement_account(settlement_account, bik=bik),
        },
    )
    return _payee(uow, supplier, parse_account_number(account_number), None, None, None)


def _supplier(uow: UnitOfWork, inn: str) -> Supplier:
    supplier = uow.find(Supplier, Supplier.id_for(inn))
    if supplier is None:
        raise UnknownSupplierError(f"no supplier with ИНН {inn}", inn=inn)
    return supplier


def check_requisites(
    supplier: Supplier,
    given: Mapping[str, str | None],
    *,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Every requisite given (`inn`, `kpp`, `bik`, `settlement_account`,
    `correspondent_account`; None: not given) must be the supplier's registered one now.
    `labels` renames the fields the error names, to the caller's own field names."""
    registered = supplier.recipient()
    wrong = sorted(
        (labels or {}).get(key, key)
        for key, value in given.items()
        if value and value != registered.get(key)
    )
    if wrong:
        raise RequisitesMismatchError(
            f"{', '.join(wrong)} are not the registered requisites of {supplier.name}; the "
            "supplier's requisites may have changed since this was printed",
            fields=wrong,
            supplier_id=str(supplier.id),
        )


def _payee(
    uow: UnitOfWork,
    supplier: Supplier,
    account_number: str | None,
    document_id: str | None,
    period: str | None,
    amount: int | None,
) -> Payee:
    bill = None
    if document_id is not None:
        bill = uow.find(Bill, Bill.id_for(document_id))
        if bill is None:
            raise UnknownBillError(f"no bill {document_id}", document_id=document_id)
        account = uow.find(PersonalAccount, bill.account_id)
        if (
            account is None
            or account.supplier_id != supplier.id
            or (account_number is not None and account.account_number != account_number)
        ):
            raise UnknownBillError(
                f"bill {document_id} is not a bill of this supplier's account",
                document_id=document_id,
            )
    else:
        assert account_number is not None
        account = uow.find(PersonalAccount, PersonalAccount.id_for(supplier.inn, account_number))
        if account is None:
            raise UnknownAccountError(
                f"no personal account {account_number!r} at {supplier.name}",
                supplier_inn=supplier.inn,
                account_number=account_number,
            )
    return Payee(
        supplier_id=supplier.id,
        supplier_name=supplier.name,
        account_id=account.id,
        account_number=account.account_number,
        document_id=document_id,
        period=bill.period if bill is not None else period,
        amount=amount,
        recipient=supplier.recipient(),
        due=account.due(bill.id if bill is not None else None),
    )
