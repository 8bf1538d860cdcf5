"""The handlers of the commands that move money: wallets, top-ups, payments and refunds.

One function per command (`ledger/payments/commands.py`), each reading its command in one unit
of work. Every change of balances happens here, with the postings carried by the payment's or
top-up's event and the wallet and account sub-ledgers updated alongside.
"""

from __future__ import annotations

from uuid import UUID

from ledger.domain import (
    Bill,
    Payment,
    PaymentStatus,
    PersonalAccount,
    TopUp,
    TopUpStatus,
    Wallet,
)
from ledger.domain.allocation import BillInput, allocate
from ledger.domain.amounts import check_amount
from ledger.domain.payment import PaymentMethod, PaymentView
from ledger.engine.command import Handlers
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    BillStateConflictError,
    NothingDueError,
    OperationMismatchError,
    UnknownBillError,
    UnknownPaymentError,
    UnknownTopUpError,
    UnknownWalletError,
    WalletOwnershipError,
)
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    OpenWallet,
    OpenWalletResult,
    RefundPayment,
    RefundPaymentResult,
    RequestTopUp,
    RequestTopUpResult,
    SettleCardPayment,
    SettleTopUp,
    SettleTopUpResult,
)
from ledger.registry.handlers import get_account, get_bill, get_supplier


def get_wallet(uow: UnitOfWork, wallet_id: UUID, *, payer_id: str | None = None) -> Wallet:
    """The wallet; to a payer, another payer's wallet does not exist."""
    wallet = uow.find(Wallet, wallet_id)
    if wallet is None or (payer_id is not None and wallet.payer_id != payer_id):
        raise UnknownWalletError(f"no wallet {wallet_id}", wallet_id=str(wallet_id))
    return wallet


def get_payment(uow: UnitOfWork, payment_id: UUID, *, payer_id: str | None = None) -> Payment:
    payment = uow.find(Payment, payment_id)
    if payment is None or (payer_id is not None and payment.payer_id != payer_id):
        raise UnknownPaymentError(f"no payment {payment_id}", payment_id=str(payment_id))
    return payment


def get_top_up(uow: UnitOfWork, top_up_id: UUID) -> TopUp:
    top_up = uow.find(TopUp, top_up_id)
    if top_up is None:
        raise UnknownTopUpError(f"no top-up {top_up_id}", top_up_id=str(top_up_id))
    return top_up


# --- wallets and top-ups -----------------------------------------------------------------------
def open_wallet(cmd: OpenWallet, uow: UnitOfWork) -> OpenWalletResult:
    wallet = uow.add(Wallet(id=cmd.wallet_id, payer_id=cmd.payer_id))
    return {"wallet_id": str(wallet.id)}


def request_top_up(cmd: RequestTopUp, uow: UnitOfWork) -> RequestTopUpResult:
    get_wallet(uow, cmd.wallet_id, payer_id=cmd.payer_id)
    top_up = uow.add(
        TopUp(
            id=cmd.top_up_id,
            wallet_id=cmd.wallet_id,
            payer_id=cmd.payer_id,
            amount=check_amount(cmd.amount),
        )
    )
    return {"top_up_id": str(top_up.id), "status": str(top_up.status), "amount": cmd.amount}


def settle_top_up(cmd: SettleTopUp, uow: UnitOfWork) -> SettleTopUpResult:
    """The acquirer's outcome. A replay of the outcome already recorded changes nothing."""
    top_up = get_top_up(uow, cmd.top_up_id)
    if cmd.amount != top_up.amount:
        raise OperationMismatchError(
            f"top-up {cmd.top_up_id} is for {top_up.amount}, the acquirer reported {cmd.amount}",
            top_up_id=str(cmd.top_up_id),
            expected=top_up.amount,
            amount=cmd.amount,
        )
    wanted = TopUpStatus.SUCCEEDED if cmd.succeeded else TopUpStatus.FAILED
    if top_up.status == wanted and top_up.acquirer_ref == cmd.acquirer_ref:
        return {"top_up_id": str(top_up.id), "status": str(top_up.status)}
    if cmd.succeeded:
        top_up.succeed(acquirer_ref=cmd.acquirer_ref)
        get_wallet(uow, top_up.wallet_id).credit(operation_id=top_up.id, amount=top_up.amount)
    else:
        top_up.fail(reason="declined by the acquirer", acquirer_ref=cmd.acquirer_ref)
    return {"top_up_id": str(top_up.id), "status": str(top_up.status)}


# --- payments ------------------------------------------------------------------------------------
def amount_due(uow: UnitOfWork, account: PersonalAccount, bill_id: UUID | None) -> int:
    """What a payment without an amount takes: what is still due on the bill, or on the whole
    account, after payments are applied by the one allocation rule the read side shows."""
    if bill_id is None:
        return account.due()
    bills = [
        BillInput(
            bill_id=key,
            period=get_bill(uow, UUID(key)).period,
            order=order,  # the account keeps its bills in the order they were added
            amount_due=due,
            paid_direct=account.bills_paid.get(key, 0),
        )
        for order, (key, due) in enumerate(account.bills_due.items())
    ]
    applied, _ = allocate(account.paid, bills)
    key = str(bill_id)
    return max(0, account.bills_due.get(key, 0) - applied.get(key, 0))


def create_payment(cmd: CreatePayment, uow: UnitOfWork) -> PaymentView:
    document_id = cmd.document_id
    account = get_account(uow, cmd.account_id)
    supplier = get_supplier(uow, account.supplier_id)
    bill_id = None
    if document_id is not None:
        bill = get_bill(uow, Bill.id_for(document_id))
        if bill.account_id != account.id:
            raise UnknownBillError(
                f"bill {document_id} does not belong to account {account.account_number}",
                document_id=document_id,
                account_id=str(account.id),
            )
        if bill.withdrawn:
            raise BillStateConflictError(
                f"bill {document_id} was withdrawn; pay its replacement",
                document_id=document_id,
                replaced_by=str(bill.replaced_by) if bill.replaced_by else None,
            )
        bill_id = bill.id
    amount = cmd.amount
    if amount is None:
        amount = amount_due(uow, account, bill_id)
        if amount == 0:
            raise NothingDueError(
                "nothing is due, so the amount must be given",
                account_id=str(account.id),
                document_id=document_id,
            )
    method = PaymentMethod(cmd.method)
    wallet_id = None  # a card payment names no wallet, whatever the caller sent
    if method == PaymentMethod.WALLET:
        if cmd.wallet_id is None:
            raise WalletOwnershipError("a wallet payment needs a wallet_id", payer_id=cmd.payer_id)
        get_wallet(uow, cmd.wallet_id, payer_id=cmd.payer_id)
        wallet_id = cmd.wallet_id
    payment = uow.add(
        Payment(
            id=cmd.payment_id,
            payer_id=cmd.payer_id,
            account_id=account.id,
            supplier_id=supplier.id,
            account_number=account.account_number,
            bill_id=bill_id,
            document_id=document_id,
            amount=check_amount(amount),
            method=str(method),
            wallet_id=wallet_id,
            email=cmd.email,
            recipient=supplier.recipient(),
        )
    )
    if cmd.confirm:
        _confirm(uow, payment)
    return payment.view()


def confirm_payment(cmd: ConfirmPayment, uow: UnitOfWork) -> PaymentView:
    payment = get_payment(uow, cmd.payment_id, payer_id=cmd.payer_id)
    _confirm(uow, payment)
    return payment.view()


def _confirm(uow: UnitOfWork, payment: Payment) -> None:
    """Card: wait for the acquirer. Wallet: debit and succeed in this same transaction."""
    payment.confirm()
    if payment.method == PaymentMethod.WALLET:
        assert payment.wallet_id is not None
        get_wallet(uow, payment.wallet_id).debit(payment_id=payment.id, amount=payment.amount)
        _succeed(uow, payment, acquirer_ref=None)


def _succeed(uow: UnitOfWork, payment: Payment, *, acquirer_ref: str | None) -> None:
    payment.succeed(acquirer_ref=acquirer_ref)
    get_account(uow, payment.account_id).receive_payment(
        payment_id=payment.id, bill_id=payment.bill_id, amount=payment.amount
    )


def settle_card_payment(cmd: SettleCardPayment, uow: UnitOfWork) -> PaymentView:
    """The acquirer's outcome for a card payment. A replay changes nothing."""
    payment = get_payment(uow, cmd.payment_id)
    if payment.method != PaymentMethod.CARD or cmd.amount != payment.amount:
        raise OperationMismatchError(
            f"payment {cmd.payment_id} is a {payment.method} payment of {payment.amount}",
            payment_id=str(cmd.payment_id),
            expected=payment.amount,
            amount=cmd.amount,
        )
    wanted = PaymentStatus.SUCCEEDED if cmd.succeeded else PaymentStatus.FAILED
    if payment.status == wanted and payment.acquirer_ref == cmd.acquirer_ref:
        return payment.view()
    if cmd.succeeded:
        _succeed(uow, payment, acquirer_ref=cmd.acquirer_ref)
    else:
        payment.fail(reason="declined by the acquirer", acquirer_ref=cmd.acquirer_ref)
    return payment.view()


def cancel_payment(cmd: CancelPayment, uow: UnitOfWork) -> PaymentView:
    payment = get_payment(uow, cmd.payment_id, payer_id=cmd.payer_id)
    payment.cancel(reason=cmd.reason)
    return payment.view()


def refund_payment(cmd: RefundPayment, uow: UnitOfWork) -> RefundPaymentResult:
    payment = get_payment(uow, cmd.payment_id)
    payment.refund(refund_id=cmd.refund_id, amount=check_amount(cmd.amount))
    if payment.method == PaymentMethod.WALLET:
        assert payment.wallet_id is not None
        get_wallet(uow, payment.wallet_id).credit(operation_id=cmd.refund_id, amount=cmd.amount)
    get_account(uow, payment.account_id).refund_payment(
        payment_id=payment.id, bill_id=payment.bill_id, amount=cmd.amount
    )
    return {"refund_id": str(cmd.refund_id), "payment": payment.view()}


HANDLERS = Handlers()
HANDLERS.add(OpenWallet, open_wallet)
HANDLERS.add(RequestTopUp, request_top_up)
HANDLERS.add(SettleTopUp, settle_top_up)
HANDLERS.add(CreatePayment, create_payment)
HANDLERS.add(ConfirmPayment, confirm_payment)
HANDLERS.add(SettleCardPayment, settle_card_payment)
HANDLERS.add(CancelPayment, cancel_payment)
HANDLERS.add(RefundPayment, refund_payment)
