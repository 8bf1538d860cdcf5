"""Payments: created and confirmed by residents, refunded by operators, read by all three."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.acquirer import checkout as card
from api.acquirer.base import Acquirer, AcquirerApi
from api.audited import receipt_of
from api.deps import (
    AcquirerDep,
    CallerDep,
    ChainIfKeptDep,
    KeyDep,
    LedgerDep,
    OperatorDep,
    ReadDep,
    ResidentDep,
    RunningDep,
    card_acquirer,
    read_your_writes,
)
from api.payment_access import visible_payment
from api.payment_probes import admit_payment, give_back_if_proven
from api.problems import ApiProblem, responses
from api.schemas.audit import PaymentWithReceipt
from api.schemas.payments import (
    CreatePaymentBody,
    PaymentDetail,
    PaymentOut,
    PaymentTarget,
    RefundBody,
    RefundOut,
    StatusChange,
)
from ledger.application import Ledger
from ledger.domain import PaymentStatus
from ledger.domain.payment import PaymentView
from ledger.engine.idempotent import derived_id
from ledger.payments.commands import CancelPayment, ConfirmPayment
from ledger.qr.payee import payee_from_qr, payee_from_requisites
from projections import models

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class AmbiguousPayeeProblem(ApiProblem):
    status, code, title = 422, "ambiguous_payee", "Name the payee one way"


def payment_out(view: PaymentView, ledger: Ledger, acquirer: Acquirer | None) -> PaymentOut:
    """A payment as the ledger reported it, with where to pay if a card payment is waiting
    (and there is an acquirer to pay at)."""
    out = PaymentOut.model_validate(view)
    if out.method == "card" and out.status == "processing" and acquirer is not None:
        checkout = card.find_checkout(ledger, out.id)
        out.checkout_url = checkout.payment_url if checkout is not None else None
    return out


async def payment_out_async(
    view: PaymentView, ledger: Ledger, acquirer: Acquirer | None
) -> PaymentOut:
    """`payment_out` on the loop; only looking up a waiting card payment's checkout (a query)
    goes to a thread."""
    if view["method"] == "card" and view["status"] == "processing" and acquirer is not None:
        return await run_in_threadpool(payment_out, view, ledger, acquirer)
    return payment_out(view, ledger, acquirer)


class SavedCardNeedsConfirmProblem(ApiProblem):
    status, code, title = 422, "saved_card_needs_confirm", "Saving or using a card needs confirm"


def card_checkout(
    ledger: Ledger,
    acquirer: Acquirer,
    view: PaymentView,
    body: CreatePaymentBody | None,
    response: Response,
    read_models: ReadDep,
) -> PaymentOut:
    """A card payment in `processing`: its checkout at the acquirer (opened now if none is
    recorded yet), or paid at once with a saved card."""
    payment = ledger.get_payment(UUID(view["id"]))
    if payment.status == PaymentStatus.PROCESSING:
        save = body is not None and body.save_card
        if body is not None and body.saved_card_id is not None:
            settled = card.pay_with_saved_card(
                ledger, card.api_of(acquirer), payment, body.saved_card_id
            )
            if settled is not None:
                read_your_writes(settled, response, read_models)
        else:
            card.ensure_checkout(
                ledger, acquirer, card.payment_order(ledger, payment, save_card=save)
            )
        payment = ledger.get_payment(payment.id)
    return payment_out(payment.view(), ledger, acquirer)


@router.post(
    "",
    status_code=201,
    response_model=PaymentOut,
    responses=responses(400, 403, 404, 409, 422, 429, 501),
)
async def create_payment(
    body: CreatePaymentBody,
    caller: ResidentDep,
    key: KeyDep,
    running: RunningDep,
    acquirer: AcquirerDep,
    response: Response,
) -> PaymentOut:
    """Pay a personal account: by `account_id`; by `supplier_inn` + `account_number`; by the
    supplier's requisites (`recipient`: ИНН, КПП, БИК, account) + `account_number`; or by a
    scanned bill's `qr_payload`, whose requisites must be the supplier's registered ones. The
    amount defaults to the code's `Sum`, else to what is still due on the bill (`document_id`)
    or on the account. `confirm: true` creates and confirms in one call. By card on a server
    with no acquirer: 501 `card_payments_unavailable`, and nothing is recorded. Paying an
    account the payer is not linked to tells whether it exists and what it owes, so it counts
    toward the link limits (then 429 `link_attempts_exceeded`), unless it names one of the
    account's bills by its ИПД.

    `async` (api/writes.py): a wallet payment by `account_id` or by supplier and number holds
    no thread while the writer and the read models work, nor, for an account the worker knows
    to be the payer's, to tell it is no probe (api/payment_probes.py); counting a probe, naming
    the payee by QR code or requisites and a card's checkout run in a thread."""
    assert caller.payer_id is not None
    # One dependency, not three: FastAPI resolves each anew on every request.
    ledger, read_models, attempts = running.ledger, running.read_models, running.link_attempts
    if body.method == "card":
        card_acquirer(acquirer)
        if (body.save_card or body.saved_card_id) and not body.confirm:
            raise SavedCardNeedsConfirmProblem("save_card and saved_card_id go with confirm: true")
    check_one_way(body)
    attempt = await admit_payment(attempts, ledger, read_models.links, caller, body)
    if body.qr_payload is None and body.recipient is None:
        target = resolve_target(ledger, body)  # nothing to read
    else:
        target = await run_in_threadpool(resolve_target, ledger, body)
    command = body.command(payer_id=caller.payer_id, idempotency_key=key, target=target)
    outcome = await writes.execute(ledger, command)
    if outcome.result["document_id"] is not None:
        await run_in_threadpool(give_back_if_proven, attempts, attempt, outcome.result)
    await writes.read_your_writes(outcome, response, read_models)
    if body.method == "card" and body.confirm and acquirer is not None:
        return await run_in_threadpool(
            card_checkout, ledger, acquirer, outcome.result, body, response, read_models
        )
    return await payment_out_async(outcome.result, ledger, acquirer)


def check_one_way(body: CreatePaymentBody) -> None:
    """A payment names its payee one way: two could name two accounts."""
    other_ways = body.account_id or body.supplier_inn or body.document_id
    scanned_and_more = body.qr_payload is not None and (
        body.recipient is not None or body.account_number is not None
    )  # the code names its account itself: a second one would be silently ignored
    if scanned_and_more or (
        (body.qr_payload is not None or body.recipient is not None) and other_ways
    ):
        raise AmbiguousPayeeProblem(
            "name the payee one way: qr_payload alone, recipient + account_number, account_id,"
            " or supplier_inn + account_number"
        )
    if body.recipient is not None and body.account_number is None:
        raise AmbiguousPayeeProblem("paying by requisites needs the account_number")


def resolve_target(ledger: Ledger, body: CreatePaymentBody) -> PaymentTarget:
    """The account, bill and amount a payment is for, from whichever way the payer named it
    (one way: `check_one_way`)."""
    if body.qr_payload is not None:
        payee = ledger.read(partial(payee_from_qr, payload=body.qr_payload))
        amount = body.amount if body.amount is not None else payee.amount
        return PaymentTarget(
            account_id=payee.account_id,
            supplier_inn=None,
            account_number=None,
            document_id=payee.document_id,
            amount=amount,
        )
    if body.recipient is not None:
        assert body.account_number is not None
        payee = ledger.read(
            partial(
                payee_from_requisites,
                account_number=body.account_number,
                **body.recipient.model_dump(),
            )
        )
        return PaymentTarget(
            account_id=payee.account_id,
            supplier_inn=None,
            account_number=None,
            document_id=None,
            amount=body.amount,
        )
    return PaymentTarget(
        account_id=body.account_id,
        supplier_inn=body.supplier_inn,
        account_number=body.account_number,
        document_id=body.document_id,
        amount=body.amount,
    )


@router.post(
    "/{payment_id}/confirm",
    response_model=PaymentOut,
    responses=responses(400, 403, 404, 409, 501),
)
async def confirm_payment(
    payment_id: UUID,
    caller: ResidentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> PaymentOut:
    """Wallet: debits and succeeds in one step. Card: goes to `processing` with a
    `checkout_url`; with no acquirer, 501 `card_payments_unavailable` and it stays as it was."""
    assert caller.payer_id is not None
    if acquirer is None:  # only then is the payment read first
        payment = await run_in_threadpool(
            partial(ledger.get_payment, payment_id, payer_id=caller.payer_id)
        )
        if payment.method == "card":
            card_acquirer(acquirer)
    outcome = await writes.execute(
        ledger,
        ConfirmPayment(payment_id=payment_id, payer_id=caller.payer_id, idempotency_key=key),
    )
    await writes.read_your_writes(outcome, response, read_models)
    if outcome.result["method"] == "card" and acquirer is not None:
        return await run_in_threadpool(
            card_checkout, ledger, acquirer, outcome.result, None, response, read_models
        )
    return await payment_out_async(outcome.result, ledger, acquirer)


@router.post(
    "/{payment_id}/cancel", response_model=PaymentOut, responses=responses(400, 403, 404, 409)
)
async def cancel_payment(
    payment_id: UUID,
    caller: ResidentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> PaymentOut:
    """Before confirming; or a card payment in `processing` whose payer has not paid yet at an
    acquirer Kvit can ask (T-Bank): its session is closed and the payment canceled. If it was
    paid meanwhile, it is settled as paid and the cancel refused (409)."""
    assert caller.payer_id is not None
    if isinstance(acquirer, AcquirerApi):
        canceled = await run_in_threadpool(
            cancel_at_acquirer, ledger, acquirer, payment_id, caller.payer_id, response, read_models
        )
        if canceled is not None:
            return canceled
    outcome = await writes.execute(
        ledger,
        CancelPayment(payment_id=payment_id, payer_id=caller.payer_id, idempotency_key=key),
    )
    await writes.read_your_writes(outcome, response, read_models)
    return await payment_out_async(outcome.result, ledger, acquirer)


def cancel_at_acquirer(
    ledger: Ledger,
    acquirer: AcquirerApi,
    payment_id: UUID,
    payer_id: str,
    response: Response,
    read_models: ReadDep,
) -> PaymentOut | None:
    """A card payment in flight at an acquirer Kvit can ask: settled as paid, or canceled
    there and then (its answer); None when the ledger's cancel is what remains to do."""
    payment = ledger.get_payment(payment_id, payer_id=payer_id)
    if payment.method == "card" and payment.status == PaymentStatus.PROCESSING:
        settled = card.cancel_in_flight(ledger, acquirer, payment)
        if settled is not None:
            read_your_writes(settled, response, read_models)
        payment = ledger.get_payment(payment_id)
    if payment.method == "card" and payment.status == PaymentStatus.CANCELED:
        return payment_out(payment.view(), ledger, acquirer)
    return None


@router.post(
    "/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses=responses(400, 403, 404, 409),
)
async def refund_payment(
    payment_id: UUID,
    body: RefundBody,
    caller: OperatorDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> RefundOut:
    """A card payment at an acquirer Kvit can instruct (T-Bank) is refunded to the card first
    (`Cancel` with the amount); the ledger records the refund once the acquirer took it."""
    if isinstance(acquirer, AcquirerApi):
        refund_id = derived_id("refund", caller.scope, key)
        await run_in_threadpool(refund_card_first, ledger, acquirer, payment_id, body, refund_id)
    outcome = await writes.execute(
        ledger, body.command(payment_id=payment_id, idempotency_key=key, scope=caller.scope)
    )
    # An operator's: it reads any read model next.
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return RefundOut(
        id=outcome.result["refund_id"],
        payment=await payment_out_async(outcome.result["payment"], ledger, acquirer),
    )


def refund_card_first(
    ledger: Ledger, acquirer: AcquirerApi, payment_id: UUID, body: RefundBody, refund_id: UUID
) -> None:
    payment = ledger.get_payment(payment_id)
    if payment.method == "card":
        card.refund_at_acquirer(ledger, acquirer, payment, body.amount, refund_id)


@router.get("/{payment_id}", response_model=PaymentWithReceipt, responses=responses(403, 404))
def get_payment(
    payment_id: UUID,
    caller: CallerDep,
    ledger: LedgerDep,
    chain: ChainIfKeptDep,
    acquirer: AcquirerDep,
) -> PaymentDetail:
    """The payment with its status history and its `receipt`: its position and chain hash in
    the audited log, and the signed checkpoint that covers it. A resident sees only their own,
    a supplier's operator only its supplier's."""
    payment = visible_payment(caller, ledger, payment_id)
    out = payment_out(payment.view(), ledger, acquirer)
    return PaymentWithReceipt(
        receipt=receipt_of(ledger, chain, payment_id),
        **out.model_dump(),
        payer_id=payment.payer_id,
        status_history=[
            StatusChange(status=str(status), at=at.isoformat())
            for status, at in payment.status_history
        ],
    )
