"""Commands by name, for tests that pick one at run time (a state machine's retries): build the
command the edge would build and execute it. Everywhere else a test builds its command itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.application import Ledger
from ledger.engine.command import Command
from ledger.engine.group_commit import Outcome
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleCardPayment,
    SettleTopUp,
)
from ledger.registry.commands import (
    ChangeSupplierRequisites,
    ConfirmPayer,
    IssueBill,
    LinkPayer,
    OpenAccount,
    RegisterSupplier,
    WithdrawBill,
)

BUILDERS: dict[str, Callable[..., Command[Any]]] = {
    "register_supplier": RegisterSupplier.parse,
    "change_supplier_requisites": ChangeSupplierRequisites.parse,
    "open_account": OpenAccount.parse,
    "link_payer": LinkPayer.parse,
    "confirm_payer": ConfirmPayer.parse,
    "issue_bill": IssueBill.parse,
    "withdraw_bill": WithdrawBill,
    "open_wallet": OpenWallet,
    "request_top_up": RequestTopUp,
    "settle_top_up": SettleTopUp,
    "create_payment": CreatePayment.parse,
    "confirm_payment": ConfirmPayment,
    "settle_card_payment": SettleCardPayment,
    "cancel_payment": CancelPayment,
    "refund_payment": RefundPayment,
}


def execute(ledger: Ledger, name: str, /, **fields: Any) -> Outcome[Any]:
    return ledger.execute(BUILDERS[name](**fields))
