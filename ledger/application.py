"""The Ledger application: the write side's one entry point.

Every public method parses its input at the edge (identifiers, amounts), builds a command and
runs it in one transaction: alone, or grouped with concurrent commands (group_commit.py). It
returns an `Outcome`: the command's result and the log position that includes it, which is
what read-your-writes waits for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application

from ledger import money, registry
from ledger.aggregate_cache import AggregateCache
from ledger.domain import Bill, Payment, PersonalAccount, Requisites, Supplier, TopUp, Wallet
from ledger.domain.bill import BillLine
from ledger.domain.payment import PaymentMethod
from ledger.errors import InvalidPaymentMethodError, UnknownAccountError
from ledger.group_commit import GroupCommitter, Outcome, run_alone
from ledger.idempotent import derived_id, idempotent
from ledger.identifiers import (
    parse_account_number,
    parse_document_id,
    parse_els,
    parse_inn,
    parse_kpp,
    parse_period,
    parse_uin,
)
from ledger.unit_of_work import Command, UnitOfWork

OPERATOR_SCOPE = "operator"


def payer_scope(payer_id: str) -> str:
    """A resident's idempotency scope; prefixed so no payer id can name another scope."""
    return f"payer:{payer_id}"


class Ledger(Application[UUID]):
    name = "kvit"
    # Aggregates are cached per process by `aggregate_cache` (not the library's cache, which
    # fast-forwards with a SELECT on every get): commands trust it and their saves prove it.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        PersonalAccount: 200,
        Wallet: 200,
        Supplier: 50,
    }

    def __init__(self, env: dict[str, str] | None = None, *, group_commit: bool = True) -> None:
        super().__init__(env)
        self.aggregate_cache = AggregateCache()
        self._committer = GroupCommitter(self) if group_commit else None
        self._contended = threading.Lock()

    # --- running commands ----------------------------------------------------------------------
    def execute(self, command: Command) -> Outcome:
        if self._committer is not None:
            return self._committer.run(command)
        return run_alone(self, command, contended=self._contended)

    def _keyed(
        self,
        name: str,
        scope: str,
        key: str,
        request: dict[str, Any],
        body: Callable[[UnitOfWork], dict[str, Any]],
    ) -> Outcome:
        return self.execute(
            idempotent(command=name, scope=scope, key=key, request=request, body=body)
        )

    def read(self, query: Callable[[UnitOfWork], Any]) -> Any:
        return query(UnitOfWork(self))

    # --- suppliers, accounts, bills ------------------------------------------------------------
    def register_supplier(
        self,
        *,
        inn: str,
        kpp: str,
        name: str,
        requisites: dict[str, str],
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        inn, kpp, parsed = parse_inn(inn), parse_kpp(kpp), Requisites.parse(**requisites)
        request = {"inn": inn, "kpp": kpp, "name": name, "requisites": parsed.as_dict()}
        return self._keyed(
            "register_supplier",
            scope,
            idempotency_key,
            request,
            lambda uow: registry.register_supplier(
                uow, inn=inn, kpp=kpp, name=name.strip(), requisites=parsed
            ),
        )

    def change_supplier_requisites(
        self,
        *,
        supplier_id: UUID,
        requisites: dict[str, str],
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        parsed = Requisites.parse(**requisites)
        request = {"supplier_id": str(supplier_id), "requisites": parsed.as_dict()}
        return self._keyed(
            "change_supplier_requisites",
            scope,
            idempotency_key,
            request,
            lambda uow: registry.change_requisites(uow, supplier_id=supplier_id, requisites=parsed),
        )

    def open_account(
        self,
        *,
        supplier_id: UUID,
        account_number: str,
        address: str,
        els: str | None = None,
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        number = parse_account_number(account_number)
        els = parse_els(els) if els else None
        request = {
            "supplier_id": str(supplier_id),
            "number": number,
            "els": els,
            "address": address,
        }
        return self._keyed(
            "open_account",
            scope,
            idempotency_key,
            request,
            lambda uow: registry.open_account(
                uow, supplier_id=supplier_id, account_number=number, els=els, address=address
            ),
        )

    def link_payer(
        self,
        *,
        payer_id: str,
        supplier_inn: str,
        account_number: str,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Naturally idempotent (linking twice leaves one link); a key is honoured if given."""
        inn, number = parse_inn(supplier_inn), parse_account_number(account_number)

        def link(uow: UnitOfWork) -> dict[str, Any]:
            return registry.link_payer(
                uow, payer_id=payer_id, supplier_inn=inn, account_number=number
            )

        if idempotency_key is None:
            return self.execute(link)
        request = {"supplier_inn": inn, "account_number": number}
        return self._keyed("link_payer", payer_scope(payer_id), idempotency_key, request, link)

    def issue_bill(
        self,
        *,
        account_id: UUID,
        document_id: str,
        period: str,
        lines: list[BillLine],
        due_date: str,
        uin: str | None = None,
        replaces: UUID | None = None,
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        document_id, period = parse_document_id(document_id), parse_period(period)
        uin = parse_uin(uin) if uin else None
        lines = [{"service": line["service"], "amount": line["amount"]} for line in lines]
        request = {
            "account_id": str(account_id),
            "document_id": document_id,
            "period": period,
            "lines": lines,
            "due_date": due_date,
            "uin": uin,
            "replaces": str(replaces) if replaces else None,
        }
        return self._keyed(
            "issue_bill",
            scope,
            idempotency_key,
            request,
            lambda uow: registry.issue_bill(
                uow,
                account_id=account_id,
                document_id=document_id,
                uin=uin,
                period=period,
                lines=lines,
                due_date=due_date,
                replaces=replaces,
            ),
        )

    def withdraw_bill(self, *, bill_id: UUID, reason: str) -> Outcome:
        return self.execute(lambda uow: registry.withdraw_bill(uow, bill_id=bill_id, reason=reason))

    # --- wallets and top-ups -------------------------------------------------------------------
    def open_wallet(self, *, payer_id: str, idempotency_key: str) -> Outcome:
        wallet_id = derived_id("wallet", payer_scope(payer_id), idempotency_key)
        return self._keyed(
            "open_wallet",
            payer_scope(payer_id),
            idempotency_key,
            {},
            lambda uow: money.open_wallet(uow, wallet_id=wallet_id, payer_id=payer_id),
        )

    def request_top_up(
        self, *, wallet_id: UUID, payer_id: str, amount: int, idempotency_key: str
    ) -> Outcome:
        top_up_id = derived_id("top_up", payer_scope(payer_id), idempotency_key)
        request = {"wallet_id": str(wallet_id), "amount": amount}
        return self._keyed(
            "request_top_up",
            payer_scope(payer_id),
            idempotency_key,
            request,
            lambda uow: money.request_top_up(
                uow, top_up_id=top_up_id, wallet_id=wallet_id, payer_id=payer_id, amount=amount
            ),
        )

    def settle_top_up(
        self, *, top_up_id: UUID, succeeded: bool, amount: int, acquirer_ref: str
    ) -> Outcome:
        return self.execute(
            lambda uow: money.settle_top_up(
                uow,
                top_up_id=top_up_id,
                succeeded=succeeded,
                amount=amount,
                acquirer_ref=acquirer_ref,
            )
        )

    # --- payments ------------------------------------------------------------------------------
    def create_payment(
        self,
        *,
        payer_id: str,
        method: str,
        idempotency_key: str,
        account_id: UUID | None = None,
        supplier_inn: str | None = None,
        account_number: str | None = None,
        document_id: str | None = None,
        amount: int | None = None,
        wallet_id: UUID | None = None,
        email: str | None = None,
        confirm: bool = False,
    ) -> Outcome:
        """Pay a personal account, by its id or by the supplier's requisites (ИНН + number)."""
        if account_id is None:
            if supplier_inn is None or account_number is None:
                raise UnknownAccountError("give account_id, or supplier_inn with account_number")
            account_id = PersonalAccount.id_for(
                parse_inn(supplier_inn), parse_account_number(account_number)
            )
        if method not in set(PaymentMethod):
            raise InvalidPaymentMethodError(
                f"method must be card or wallet, got {method!r}", method=method
            )
        document_id = parse_document_id(document_id) if document_id else None
        payment_id = derived_id("payment", payer_scope(payer_id), idempotency_key)
        request = {
            "account_id": str(account_id),
            "document_id": document_id,
            "amount": amount,
            "method": method,
            "wallet_id": str(wallet_id) if wallet_id else None,
            "email": email,
            "confirm": confirm,
        }
        return self._keyed(
            "create_payment",
            payer_scope(payer_id),
            idempotency_key,
            request,
            lambda uow: money.create_payment(
                uow,
                payment_id=payment_id,
                payer_id=payer_id,
                account_id=account_id,
                document_id=document_id,
                amount=amount,
                method=method,
                wallet_id=wallet_id,
                email=email,
                confirm=confirm,
            ),
        )

    def confirm_payment(self, *, payment_id: UUID, payer_id: str, idempotency_key: str) -> Outcome:
        return self._keyed(
            "confirm_payment",
            payer_scope(payer_id),
            idempotency_key,
            {"payment_id": str(payment_id)},
            lambda uow: money.confirm_payment(uow, payment_id=payment_id, payer_id=payer_id),
        )

    def settle_card_payment(
        self, *, payment_id: UUID, succeeded: bool, amount: int, acquirer_ref: str
    ) -> Outcome:
        return self.execute(
            lambda uow: money.settle_card_payment(
                uow,
                payment_id=payment_id,
                succeeded=succeeded,
                amount=amount,
                acquirer_ref=acquirer_ref,
            )
        )

    def cancel_payment(
        self, *, payment_id: UUID, payer_id: str, idempotency_key: str, reason: str = "requested"
    ) -> Outcome:
        return self._keyed(
            "cancel_payment",
            payer_scope(payer_id),
            idempotency_key,
            {"payment_id": str(payment_id), "reason": reason},
            lambda uow: money.cancel_payment(
                uow, payment_id=payment_id, payer_id=payer_id, reason=reason
            ),
        )

    def refund_payment(
        self, *, payment_id: UUID, amount: int, idempotency_key: str, scope: str = OPERATOR_SCOPE
    ) -> Outcome:
        refund_id = derived_id("refund", scope, idempotency_key)
        return self._keyed(
            "refund_payment",
            scope,
            idempotency_key,
            {"payment_id": str(payment_id), "amount": amount},
            lambda uow: money.refund_payment(
                uow, refund_id=refund_id, payment_id=payment_id, amount=amount
            ),
        )

    # --- reads (current state of one aggregate) ------------------------------------------------
    def get_supplier(self, supplier_id: UUID) -> Supplier:
        return self.read(lambda uow: registry.get_supplier(uow, supplier_id))  # type: ignore[no-any-return]

    def find_supplier_by_inn(self, inn: str) -> Supplier:
        return self.get_supplier(Supplier.id_for(parse_inn(inn)))

    def get_account(self, account_id: UUID) -> PersonalAccount:
        return self.read(lambda uow: registry.get_account(uow, account_id))  # type: ignore[no-any-return]

    def get_bill(self, bill_id: UUID) -> Bill:
        return self.read(lambda uow: registry.get_bill(uow, bill_id))  # type: ignore[no-any-return]

    def get_wallet(self, wallet_id: UUID, *, payer_id: str | None = None) -> Wallet:
        return self.read(lambda uow: money.get_wallet(uow, wallet_id, payer_id=payer_id))  # type: ignore[no-any-return]

    def get_payment(self, payment_id: UUID, *, payer_id: str | None = None) -> Payment:
        return self.read(lambda uow: money.get_payment(uow, payment_id, payer_id=payer_id))  # type: ignore[no-any-return]

    def get_top_up(self, top_up_id: UUID) -> TopUp:
        return self.read(lambda uow: money.get_top_up(uow, top_up_id))  # type: ignore[no-any-return]
