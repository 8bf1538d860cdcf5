"""A cached aggregate's copy: equal to the original, and nothing done to it reaches the
original (the cache hands copies to commands that change them)."""

from __future__ import annotations

from copy import deepcopy
from uuid import uuid4

from ledger.domain import Bill, PersonalAccount
from ledger.engine.aggregate_cache import clone


def account() -> PersonalAccount:
    opened = PersonalAccount(
        supplier_id=uuid4(), supplier_inn="7701234560", account_number="1", els=None, address="д. 1"
    )
    opened.add_bill(bill_id=uuid4(), amount_due=1000, replaces=None)
    opened.link_payer("anna")
    opened.collect_events()
    return opened


def test_a_copy_has_the_same_state_and_changes_apart() -> None:
    original = account()
    before = deepcopy(original.__dict__)
    copy = clone(original)
    assert type(copy) is PersonalAccount and copy.__dict__ == before

    copy.receive_payment(payment_id=uuid4(), bill_id=next(iter(copy.bills_due)), amount=300)
    copy.link_payer("boris")
    copy.bills_due.clear()

    assert original.__dict__ == before
    assert original.payer_ids == ["anna"] and original.paid == 0


def test_nested_state_and_pending_events_are_copied_too() -> None:
    bill = Bill(
        account_id=uuid4(),
        document_id="70АА000560-01-6103",
        uin=None,
        period="2026-03",
        lines=[{"service": "ХВС", "amount": 100}],
        amount_due=100,
        due_date="2026-04-15",
        replaces=None,
    )
    copy = clone(bill)  # a list of dicts, and the creation event still pending
    copy.lines[0]["amount"] = 1
    copy.pending_events.clear()
    assert bill.lines[0]["amount"] == 100 and len(bill.pending_events) == 1
