"""Each event other contexts read has a `Read` view (ledger/domain/read.py): the event's fields,
typed for what a reader of the log gets. Held here to the event's fields, and to the values the
log reader really returns on every backend (its fast path leaves ids as text)."""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.domain import BankNotice, Bill, Payment, PersonalAccount, TopUp, Wallet
from ledger.domain.postings import transfer
from ledger.domain.read import UuidOrText
from projections.models import MODELS
from storage.log import iter_events, read_chunk

# Fields a view leaves out, and why.
NOT_IN_VIEWS = {
    # Links recorded before proofs existed lack it, and the fast path has no class default.
    PersonalAccount.PayerLinked: {"proof"},
}
_LOG_COLUMNS = {"originator_id", "originator_version", "originator_topic"}


def _followed() -> set[type[Any]]:
    followed = {cls for model in MODELS.values() for cls in model.handles}
    return followed | {Payment.Succeeded}  # mail/worker.py


def _as_read(hint: Any) -> Any:
    """The type a reader gets for a field of type `hint`: ids may come as text."""
    if hint is UUID:
        return UuidOrText
    if get_origin(hint) in (Union, types.UnionType):
        return Union[tuple(_as_read(arg) for arg in get_args(hint))]  # noqa: UP007
    return hint


def _conforms(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if is_typeddict(hint):
        fields = get_type_hints(hint)
        return type(value) is dict and all(_conforms(value[k], t) for k, t in fields.items())
    if origin is list:
        (item,) = get_args(hint)
        return type(value) is list and all(_conforms(v, item) for v in value)
    if origin is dict:
        key, item = get_args(hint)
        return type(value) is dict and all(
            _conforms(k, key) and _conforms(v, item) for k, v in value.items()
        )
    return isinstance(value, hint)


def test_every_event_other_contexts_follow_has_a_view() -> None:
    assert all(hasattr(cls, "Read") for cls in _followed())


def test_a_view_is_its_events_fields_with_ids_read_as_uuid_or_text() -> None:
    for cls in _followed():
        hints = get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls)} - _LOG_COLUMNS
        expected = {name: _as_read(hints[name]) for name in fields - NOT_IN_VIEWS.get(cls, set())}
        assert get_type_hints(cls.Read) == expected, cls.__qualname__


def _history() -> list[Any]:
    """One aggregate or more with every followed event, saved as the ledger saves them."""
    supplier_id, account_id, bill_id, wallet_id = uuid4(), uuid4(), uuid4(), uuid4()
    bill = Bill(
        account_id=account_id,
        document_id="D1",
        uin=None,
        period="2026-03",
        lines=[{"service": "water", "amount": 500}],
        amount_due=500,
        due_date="2026-04-15",
        replaces=None,
    )
    replacement = Bill(
        account_id=account_id,
        document_id="D2",
        uin="U",
        period="2026-03",
        lines=[],
        amount_due=400,
        due_date="2026-04-15",
        replaces=bill.id,
    )
    account = PersonalAccount(
        supplier_id=supplier_id, supplier_inn="7701", account_number="1", els=None, address="a"
    )
    account.link_payer("payer", proof="bill")
    account.add_bill(bill_id=bill.id, amount_due=500, replaces=None)
    account.add_bill(bill_id=replacement.id, amount_due=400, replaces=bill.id)
    account.withdraw_bill(bill_id=replacement.id)
    account.receive_payment(payment_id=uuid4(), bill_id=bill_id, amount=100)
    account.refund_payment(payment_id=uuid4(), bill_id=None, amount=50)
    wallet = Wallet(id=wallet_id, payer_id="payer")
    wallet.credit(operation_id=uuid4(), amount=1000)
    wallet.debit(payment_id=uuid4(), amount=300)
    top_up = TopUp(id=uuid4(), wallet_id=wallet_id, payer_id="payer", amount=1000)
    top_up.succeed(acquirer_ref="acq")
    payments = [_payment(supplier_id, account_id, bill_id, wallet_id) for _ in range(3)]
    for payment in payments:
        payment.confirm()
    payments[0].succeed(acquirer_ref=None)
    payments[0].refund(refund_id=uuid4(), amount=10)
    payments[1].fail(reason="declined", acquirer_ref="acq")
    canceled = _payment(supplier_id, account_id, None, None)
    canceled.cancel(reason="changed my mind")
    notice = BankNotice(
        bank_bik="044525225",
        order_id="1",
        order_date="2026-03-15",
        amount=700,
        commission=5,
        payer=None,
        supplier_id=supplier_id,
        account_id=account_id,
        bill_id=bill_id,
        document_id="D1",
        period="2026-03",
        purpose=None,
        references={"account_number": "1"},
        fingerprint="f",
        postings=transfer(debit="bank:044525225:clearing", credit="payable", amount=700),
    )
    notice.annul(annul_date="2026-03-20")
    return [bill, replacement, account, wallet, top_up, *payments, canceled, notice]


def _payment(
    supplier_id: UUID, account_id: UUID, bill_id: UUID | None, wallet_id: UUID | None
) -> Payment:
    return Payment(
        id=uuid4(),
        payer_id="payer",
        account_id=account_id,
        supplier_id=supplier_id,
        account_number="1",
        bill_id=bill_id,
        document_id=None,
        amount=300,
        method="card" if wallet_id is None else "wallet",
        wallet_id=wallet_id,
        email="payer@example.org",
        recipient={"inn": "7701", "name": "УК"},
    )


def test_what_the_log_reader_returns_matches_the_views(ledger: Ledger) -> None:
    """Both what the read models get (the fast path where it applies) and the domain events
    (what as-of replays and a ciphered or upcast log give)."""
    ledger.save(*_history())
    followed = {cls.TOPIC: cls for cls in _followed()}
    chunk = read_chunk(ledger, after=0, limit=1000, topics=set(followed))
    assert {logged.topic for logged in chunk.events} == set(followed)
    domain = [(get_topic(type(e)), e) for _, e in iter_events(ledger)]
    for topic, event in [(logged.topic, logged.event) for logged in chunk.events] + domain:
        if topic not in followed:
            continue
        for name, hint in get_type_hints(followed[topic].Read).items():
            value = getattr(event, name)
            assert _conforms(value, hint), (topic, type(event).__name__, name, value)
            assert hint is not datetime or value.tzinfo is not None
