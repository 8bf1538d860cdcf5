"""The registry's commands as data: suppliers, personal accounts, links and bills.

Like the commands that move money (`ledger/payments/commands.py`): a frozen dataclass each,
parsed once at the edge (`parse`), handled by one function of `ledger/registry/handlers.py`,
with the result it answers with. `request()` is what the idempotency record fingerprints, so
its shape is stored forever (tests/unit/test_commands.py writes each one out): a field added
later must leave existing requests unchanged. So free text is kept as given and checked by
its rule (ledger/domain/text.py) in `parse`, where a refusal belongs; the handler records the
rule's normalised form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypedDict
from uuid import UUID

from ledger.domain import Requisites
from ledger.domain.bill import BillLine
from ledger.domain.identifiers import (
    parse_account_number,
    parse_date,
    parse_document_id,
    parse_els,
    parse_inn,
    parse_kpp,
    parse_period,
    parse_uin,
)
from ledger.domain.text import ADDRESS, PAYER_ID, REASON, SERVICE, SUPPLIER_NAME
from ledger.engine.command import OPERATOR_SCOPE, Command, OperatorCommand, payer_scope
from ledger.engine.idempotent import check_key, idempotent
from ledger.engine.unit_of_work import UnitOfWork


# --- results -------------------------------------------------------------------------------------
class SupplierResult(TypedDict):
    """A supplier registered, or its requisites changed."""

    supplier_id: str


class OpenAccountResult(TypedDict):
    account_id: str


class PayerLinkResult(TypedDict):
    account_id: str
    proven: bool


class IssueBillResult(TypedDict):
    bill_id: str
    amount_due: int


class WithdrawBillResult(TypedDict):
    bill_id: str


# --- suppliers -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RegisterSupplier(OperatorCommand[SupplierResult]):
    name: ClassVar[str] = "register_supplier"
    inn: str
    kpp: str
    supplier_name: str
    requisites: Requisites

    @classmethod
    def parse(
        cls,
        *,
        inn: str,
        kpp: str,
        name: str,
        requisites: dict[str, str],
        idempotency_key: str,
        caller_scope: str = OPERATOR_SCOPE,
    ) -> RegisterSupplier:
        return cls(
            inn=parse_inn(inn),
            kpp=parse_kpp(kpp),
            requisites=Requisites.parse(**requisites),
            supplier_name=SUPPLIER_NAME.accept(name),
            idempotency_key=check_key(idempotency_key),
            caller_scope=caller_scope,
        )

    def request(self) -> dict[str, Any]:
        return {
            "inn": self.inn,
            "kpp": self.kpp,
            "name": self.supplier_name,
            "requisites": self.requisites.as_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class ChangeSupplierRequisites(OperatorCommand[SupplierResult]):
    name: ClassVar[str] = "change_supplier_requisites"
    supplier_id: UUID
    requisites: Requisites

    @classmethod
    def parse(
        cls,
        *,
        supplier_id: UUID,
        requisites: dict[str, str],
        idempotency_key: str,
        caller_scope: str = OPERATOR_SCOPE,
    ) -> ChangeSupplierRequisites:
        return cls(
            supplier_id=supplier_id,
            requisites=Requisites.parse(**requisites),
            idempotency_key=check_key(idempotency_key),
            caller_scope=caller_scope,
        )

    def request(self) -> dict[str, Any]:
        return {"supplier_id": str(self.supplier_id), "requisites": self.requisites.as_dict()}


# --- personal accounts and their payers ----------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OpenAccount(OperatorCommand[OpenAccountResult]):
    name: ClassVar[str] = "open_account"
    supplier_id: UUID
    account_number: str
    address: str
    els: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        supplier_id: UUID,
        account_number: str,
        address: str,
        els: str | None = None,
        idempotency_key: str,
        caller_scope: str = OPERATOR_SCOPE,
    ) -> OpenAccount:
        return cls(
            supplier_id=supplier_id,
            account_number=parse_account_number(account_number),
            address=ADDRESS.accept(address),
            els=parse_els(els) if els else None,
            idempotency_key=check_key(idempotency_key),
            caller_scope=caller_scope,
        )

    def request(self) -> dict[str, Any]:
        return {
            "supplier_id": str(self.supplier_id),
            "number": self.account_number,
            "els": self.els,
            "address": self.address,
        }


@dataclass(frozen=True, kw_only=True)
class LinkPayer(Command[PayerLinkResult]):
    """Naturally idempotent (linking twice leaves one link); a key is honoured if given.
    `document_id` (the ИПД of a current bill) proves possession (registry.link_payer)."""

    name: ClassVar[str] = "link_payer"
    payer_id: str
    supplier_inn: str
    account_number: str
    document_id: str | None = None
    idempotency_key: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        payer_id: str,
        supplier_inn: str,
        account_number: str,
        document_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> LinkPayer:
        return cls(
            payer_id=PAYER_ID.require(payer_id),
            supplier_inn=parse_inn(supplier_inn),
            account_number=parse_account_number(account_number),
            document_id=parse_document_id(document_id) if document_id else None,
            idempotency_key=None if idempotency_key is None else check_key(idempotency_key),
        )

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "supplier_inn": self.supplier_inn,
            "account_number": self.account_number,
        }
        if self.document_id is not None:
            # `bill_total` stays in the fingerprint so that keys recorded when a bill total
            # was a proof still replay.
            request.update(document_id=self.document_id, bill_total=None)
        return request

    def bind(
        self, handler: Callable[[Any, UnitOfWork], PayerLinkResult]
    ) -> Callable[[UnitOfWork], PayerLinkResult]:
        if self.idempotency_key is None:
            return partial(handler, self)
        return idempotent(
            command=self.name,
            scope=payer_scope(self.payer_id),
            key=self.idempotency_key,
            request=self.request(),
            body=partial(handler, self),
        )


@dataclass(frozen=True, kw_only=True)
class ConfirmPayer(OperatorCommand[PayerLinkResult]):
    """An operator's confirmation that the payer holds the account (a proven link)."""

    name: ClassVar[str] = "confirm_payer"
    account_id: UUID
    payer_id: str

    @classmethod
    def parse(
        cls,
        *,
        account_id: UUID,
        payer_id: str,
        idempotency_key: str,
        caller_scope: str = OPERATOR_SCOPE,
    ) -> ConfirmPayer:
        return cls(
            account_id=account_id,
            payer_id=PAYER_ID.require(payer_id),
            idempotency_key=check_key(idempotency_key),
            caller_scope=caller_scope,
        )

    def request(self) -> dict[str, Any]:
        return {"account_id": str(self.account_id), "payer_id": self.payer_id}


# --- bills ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class IssueBill(OperatorCommand[IssueBillResult]):
    name: ClassVar[str] = "issue_bill"
    account_id: UUID
    document_id: str
    period: str
    lines: list[BillLine]
    due_date: str
    uin: str | None = None
    replaces: UUID | None = None

    @classmethod
    def parse(
        cls,
        *,
        account_id: UUID,
        document_id: str,
        period: str,
        lines: list[BillLine],
        due_date: str,
        uin: str | None = None,
        replaces: UUID | None = None,
        idempotency_key: str,
        caller_scope: str = OPERATOR_SCOPE,
    ) -> IssueBill:
        return cls(
            account_id=account_id,
            document_id=parse_document_id(document_id),
            period=parse_period(period),
            lines=[
                {"service": _service(line["service"]), "amount": line["amount"]} for line in lines
            ],
            due_date=parse_date(due_date, "due_date"),
            uin=parse_uin(uin) if uin else None,
            replaces=replaces,
            idempotency_key=check_key(idempotency_key),
            caller_scope=caller_scope,
        )

    def request(self) -> dict[str, Any]:
        return {
            "account_id": str(self.account_id),
            "document_id": self.document_id,
            "period": self.period,
            "lines": self.lines,
            "due_date": self.due_date,
            "uin": self.uin,
            "replaces": str(self.replaces) if self.replaces else None,
        }


def _service(name: str) -> str:
    """A bill line's service as given, checked by its text rule; a blank one is refused by
    the bill's own rule (`invalid_bill`, handlers.check_lines)."""
    return SERVICE.accept(name) if name.strip() else name


@dataclass(frozen=True, kw_only=True)
class WithdrawBill(Command[WithdrawBillResult]):
    """Withdraw a bill without a replacement (unkeyed: withdrawing it again is a conflict)."""

    bill_id: UUID
    reason: str

    def __post_init__(self) -> None:
        REASON.require(self.reason)
