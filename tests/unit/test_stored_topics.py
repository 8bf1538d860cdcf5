"""Stored topics are forever: every topic the ledger writes (event topics in the events table,
aggregate topics inside creation events and snapshots) resolves to the same class, and an event
of that class stores the same fields, whatever the Python code around them becomes."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import ledger.domain
from audit.encoding import MAX_TOPIC_BYTES
from ledger.application import Ledger
from ledger.payments.commands import CreatePayment, RefundPayment
from tests.fixtures import setup_world

# topic -> (class in ledger.domain, the fields its events store beyond id, version and time;
# None for an aggregate's own topic).
STORED: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "kvit.bank_notice": ("notice:BankNotice", None),
    "kvit.bank_notice.accepted": (
        "notice:BankNotice.Accepted",
        (
            "account_id",
            "amount",
            "bank_bik",
            "bill_id",
            "commission",
            "document_id",
            "fingerprint",
            "order_date",
            "order_id",
            "originator_topic",
            "payer",
            "period",
            "postings",
            "purpose",
            "references",
            "supplier_id",
        ),
    ),
    "kvit.bank_notice.annulled": ("notice:BankNotice.Annulled", ("annul_date", "postings")),
    "kvit.bank_notice.created": ("notice:BankNotice.Created", ("originator_topic",)),
    "kvit.bill": ("bill:Bill", None),
    "kvit.card_checkout": ("card_checkout:CardCheckout", None),
    "kvit.card_checkout.created": ("card_checkout:CardCheckout.Created", ("originator_topic",)),
    "kvit.card_checkout.opened": (
        "card_checkout:CardCheckout.Opened",
        (
            "acquirer",
            "acquirer_payment_id",
            "amount",
            "customer_key",
            "kind",
            "operation_id",
            "originator_topic",
            "payer_id",
            "payment_url",
        ),
    ),
    "kvit.bill.created": ("bill:Bill.Created", ("originator_topic",)),
    "kvit.bill.issued": (
        "bill:Bill.Issued",
        (
            "account_id",
            "amount_due",
            "document_id",
            "due_date",
            "lines",
            "originator_topic",
            "period",
            "replaces",
            "uin",
        ),
    ),
    "kvit.bill.withdrawn": ("bill:Bill.Withdrawn", ("reason", "replaced_by")),
    "kvit.els_index": ("els_index:ElsIndex", None),
    "kvit.els_index.account_added": ("els_index:ElsIndex.AccountAdded", ("account_id",)),
    "kvit.els_index.created": ("els_index:ElsIndex.Created", ("originator_topic",)),
    "kvit.els_index.started": ("els_index:ElsIndex.Started", ("els", "originator_topic")),
    "kvit.idempotency_record": ("idempotency:IdempotencyRecord", None),
    "kvit.idempotency_record.created": (
        "idempotency:IdempotencyRecord.Created",
        ("originator_topic",),
    ),
    "kvit.idempotency_record.recorded": (
        "idempotency:IdempotencyRecord.Recorded",
        ("command", "fingerprint", "key", "originator_topic", "result", "scope"),
    ),
    "kvit.payment": ("payment:Payment", None),
    "kvit.payment.canceled": ("payment:Payment.Canceled", ("reason",)),
    "kvit.payment.confirmed": ("payment:Payment.Confirmed", ()),
    "kvit.payment.created": (
        "payment:Payment.Created",
        (
            "account_id",
            "account_number",
            "amount",
            "bill_id",
            "document_id",
            "email",
            "method",
            "originator_topic",
            "payer_id",
            "recipient",
            "supplier_id",
            "wallet_id",
        ),
    ),
    "kvit.payment.failed": ("payment:Payment.Failed", ("acquirer_ref", "reason")),
    "kvit.payment.refunded": ("payment:Payment.Refunded", ("amount", "postings", "refund_id")),
    "kvit.payment.succeeded": ("payment:Payment.Succeeded", ("acquirer_ref", "postings")),
    "kvit.personal_account": ("account:PersonalAccount", None),
    "kvit.personal_account.bill_added": (
        "account:PersonalAccount.BillAdded",
        ("amount_due", "bill_id", "replaces"),
    ),
    "kvit.personal_account.bill_withdrawn": (
        "account:PersonalAccount.BillWithdrawn",
        ("bill_id",),
    ),
    "kvit.personal_account.created": ("account:PersonalAccount.Created", ("originator_topic",)),
    "kvit.personal_account.opened": (
        "account:PersonalAccount.Opened",
        ("account_number", "address", "els", "originator_topic", "supplier_id", "supplier_inn"),
    ),
    "kvit.personal_account.payer_linked": (
        "account:PersonalAccount.PayerLinked",
        ("payer_id", "proof"),
    ),
    "kvit.personal_account.payment_received": (
        "account:PersonalAccount.PaymentReceived",
        ("amount", "bill_id", "payment_id"),
    ),
    "kvit.personal_account.payment_refunded": (
        "account:PersonalAccount.PaymentRefunded",
        ("amount", "bill_id", "payment_id"),
    ),
    "kvit.supplier": ("supplier:Supplier", None),
    "kvit.supplier.created": ("supplier:Supplier.Created", ("originator_topic",)),
    "kvit.supplier.registered": (
        "supplier:Supplier.Registered",
        ("inn", "kpp", "name", "originator_topic", "requisites"),
    ),
    "kvit.supplier.requisites_changed": (
        "supplier:Supplier.RequisitesChanged",
        ("requisites",),
    ),
    "kvit.saved_cards": ("saved_cards:SavedCards", None),
    "kvit.saved_cards.card_removed": ("saved_cards:SavedCards.CardRemoved", ("card_id",)),
    "kvit.saved_cards.card_saved": (
        "saved_cards:SavedCards.CardSaved",
        ("card_id", "exp_date", "pan", "rebill_id"),
    ),
    "kvit.saved_cards.created": ("saved_cards:SavedCards.Created", ("originator_topic",)),
    "kvit.saved_cards.started": (
        "saved_cards:SavedCards.Started",
        ("originator_topic", "payer_id"),
    ),
    "kvit.top_up": ("top_up:TopUp", None),
    "kvit.top_up.created": ("top_up:TopUp.Created", ("originator_topic",)),
    "kvit.top_up.failed": ("top_up:TopUp.Failed", ("acquirer_ref", "reason")),
    "kvit.top_up.requested": (
        "top_up:TopUp.Requested",
        ("amount", "originator_topic", "payer_id", "wallet_id"),
    ),
    "kvit.top_up.succeeded": ("top_up:TopUp.Succeeded", ("acquirer_ref", "postings")),
    "kvit.wallet": ("wallet:Wallet", None),
    "kvit.wallet.created": ("wallet:Wallet.Created", ("originator_topic",)),
    "kvit.wallet.credited": ("wallet:Wallet.Credited", ("amount", "operation_id")),
    "kvit.wallet.debited": ("wallet:Wallet.Debited", ("amount", "payment_id")),
    "kvit.wallet.opened": ("wallet:Wallet.Opened", ("originator_topic", "payer_id")),
}
_BASE_FIELDS = {f.name for f in dataclasses.fields(Aggregate.Event)}


def _where(cls: type) -> str:
    return f"{cls.__module__.removeprefix('ledger.domain.')}:{cls.__qualname__}"


def _stored_fields(cls: type) -> tuple[str, ...]:
    names = (f.name for f in dataclasses.fields(cls))
    return tuple(sorted(n for n in names if n not in _BASE_FIELDS))


def _aggregates() -> list[type[Aggregate]]:
    found = []
    for info in pkgutil.iter_modules(ledger.domain.__path__):
        module = importlib.import_module(f"ledger.domain.{info.name}")
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Aggregate)
            and value.__module__ == module.__name__
        ]
    return found


def _topics_in_the_code() -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """Every aggregate of ledger.domain and every event class nested on one (the library
    stores those; `Event` is only a base)."""
    topics: dict[str, tuple[str, tuple[str, ...] | None]] = {}
    for aggregate in _aggregates():
        topics[get_topic(aggregate)] = (_where(aggregate), None)
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, CanMutateAggregate)
                and name != "Event"
            ):
                topics[get_topic(value)] = (_where(value), _stored_fields(value))
    return topics


def test_every_stored_topic_resolves_to_its_class_with_the_same_fields() -> None:
    for topic, (where, fields) in STORED.items():
        cls = resolve_topic(topic)
        assert (_where(cls), None if fields is None else _stored_fields(cls)) == (where, fields)


def test_the_domain_stores_no_topic_but_the_pinned_ones() -> None:
    assert _topics_in_the_code() == STORED


def test_what_the_ledger_writes_is_stored_under_pinned_topics(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=10_000)
    paid = memory_ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=3000,
            confirm=True,
            idempotency_key="pay",
        )
    )
    memory_ledger.execute(
        RefundPayment(payment_id=UUID(paid.result["id"]), amount=1000, idempotency_key="refund")
    )
    written = {topic for _, topic in _stored(memory_ledger)}
    assert written <= set(STORED)
    assert {"kvit.wallet.debited", "kvit.payment.refunded", "kvit.bill.issued"} <= written


def _stored(app: Ledger) -> list[tuple[int, str]]:
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    return [(n.id, n.topic) for n in notifications]


def test_every_stored_topic_fits_an_audit_entry() -> None:
    """The log's entry format holds a topic's length in 16 bits (audit/encoding.py); topics are
    the pinned constants above, never input, so the ledger cannot write one that does not fit."""
    assert all(len(topic.encode()) <= MAX_TOPIC_BYTES for topic in STORED)
