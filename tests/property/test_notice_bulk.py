"""A register decided in bulk (ledger/notices/bulk.py) ends exactly as the same lines run
command by command through their handlers (ledger/engine/batch.py): the same outcome or the
same error for every line, and the same events stored, field for field (timestamps aside).

Lines are drawn from small pools, so one batch holds what registers do: an OrderID twice
(duplicates), the same OrderID with other content (conflicts), an annulment before, after or
of a notice of the same batch, twice or on another date, unknown accounts and bills, an ЕЛС
two suppliers share, requisites that are not the supplier's, a withdrawn bill, an OrderID of
another bank. Several batches in a row meet what earlier ones stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
import orjson
from hypothesis import given, settings

from ledger.application import HANDLERS, Ledger
from ledger.engine.batch import BatchItem, run_batch
from ledger.engine.persistence import in_memory_env
from ledger.notices.bulk import run_notice_batch
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.registry.commands import IssueBill, OpenAccount, RegisterSupplier, WithdrawBill
from storage.log import iter_stored
from tests.fixtures import (
    ACCOUNT_NUMBER,
    DOCUMENT_ID,
    INN,
    KPP,
    OTHER_INN,
    REQUISITES,
    setup_world,
)

BANKS = ("044525225", "044525225", "044525593")
ELS = "70АА000560"
WITHDRAWN = "70АА000560-01-6104"
OTHER_NUMBER = "0667000002"
ORDERS = st.integers(min_value=0, max_value=4)


@st.composite
def order_id(draw: st.DrawFn, bank: str) -> str:
    """Mostly an OrderID that names no bank or this one; sometimes another bank's."""
    order = draw(ORDERS)
    named = draw(st.sampled_from([None, None, bank, bank, "044525593"]))
    return f"{order:032d}" if named is None else f"1{named}{order:022d}"


def build_world() -> Ledger:
    """One supplier with two accounts (one carries the ЕЛС), a bill and a withdrawn bill;
    a second supplier whose account carries the same ЕЛС."""
    ledger = Ledger(in_memory_env())
    world = setup_world(ledger)
    ledger.execute(
        OpenAccount.parse(
            supplier_id=world.supplier_id,
            account_number=OTHER_NUMBER,
            address="д. 2",
            els=None,
            idempotency_key="acc2",
        )
    )
    withdrawn = ledger.execute(
        IssueBill.parse(
            account_id=world.account_id,
            document_id=WITHDRAWN,
            period="2026-04",
            lines=[{"service": "Отопление", "amount": 1000}],
            due_date="2026-05-15",
            idempotency_key="bill2",
        )
    )
    ledger.execute(
        WithdrawBill(bill_id=UUID(withdrawn.result["bill_id"]), reason="ошибка в расчёте")
    )
    other = ledger.execute(
        RegisterSupplier.parse(
            inn=OTHER_INN,
            kpp=KPP,
            name='ООО "Другая УК"',
            requisites=REQUISITES,
            idempotency_key="sup2",
        )
    )
    ledger.execute(
        OpenAccount.parse(
            supplier_id=UUID(other.result["supplier_id"]),
            account_number="77-1",
            address="д. 1",
            els=ELS,
            idempotency_key="acc3",
        )
    )
    return ledger


@st.composite
def receive(draw: st.DrawFn) -> ReceiveNotice:
    bank = draw(st.sampled_from(BANKS))
    reference = draw(
        st.sampled_from(
            [
                {"account_number": ACCOUNT_NUMBER, "recipient_inn": INN},
                {"account_number": ACCOUNT_NUMBER, "recipient_inn": INN},
                {"account_number": OTHER_NUMBER, "recipient_inn": INN},
                {"document_id": DOCUMENT_ID},
                {"account_number": "NO-SUCH", "recipient_inn": INN},
                {"document_id": DOCUMENT_ID},
                {"document_id": WITHDRAWN},
                {"document_id": "70АА000999-01-6103"},
                {"els": ELS},
                {"els": ELS, "recipient_inn": INN},
                {"housing_id": ELS + "-01", "recipient_inn": OTHER_INN},
            ]
        )
    )
    line = NoticeLine(
        line_no=1,
        order_id=draw(order_id(bank)),
        order_date=date(2026, 3, 15),
        action="",
        amount=draw(st.sampled_from([1000, 2500])),
        recipient_kpp=draw(st.sampled_from([None, None, KPP, "770101002"])),
        **reference,
    )
    return ReceiveNotice(bank_bik=bank, line=line)


@st.composite
def annul(draw: st.DrawFn) -> AnnulNotice:
    bank = draw(st.sampled_from(BANKS))
    return AnnulNotice(
        bank_bik=bank,
        order_id=draw(order_id(bank)),
        annul_date=draw(st.sampled_from(["2026-03-20", "2026-03-21"])),
    )


commands = st.lists(st.one_of(receive(), receive(), annul()), min_size=1, max_size=14)


def answers(items: list[BatchItem]) -> list[Any]:
    return [
        (type(i.error).__name__, i.error.code, i.error.message, i.error.data)
        if i.error is not None
        else (i.outcome.result if i.outcome is not None else None)
        for i in items
    ]


def stored(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every stored event, by aggregate and version, with its state less the timestamp."""
    events = []
    for r in iter_stored(ledger):
        state = orjson.loads(r.state)
        state.pop("timestamp")
        events.append((str(r.originator_id), r.version, r.topic, state))
    return sorted(events, key=lambda e: (e[0], e[1]))


@settings(max_examples=120, deadline=None)
@given(batches=st.lists(commands, min_size=1, max_size=3))
def test_bulk_decides_and_writes_as_the_handlers_do(batches: list[list[Any]]) -> None:
    by_handlers, in_bulk = build_world(), build_world()
    try:
        for batch in batches:
            expected = run_batch(by_handlers, [HANDLERS.bind(c) for c in batch])
            got = run_notice_batch(in_bulk, batch)
            assert answers(got) == answers(expected)
            positions = {i.outcome.position for i in got if i.outcome is not None}
            assert len(positions) <= 1  # one transaction: one position for every line
        assert stored(in_bulk) == stored(by_handlers)
        for account_id in {UUID(e[0]) for e in stored(in_bulk) if "account_number" in e[3]}:
            cached = in_bulk.get_account(account_id)  # the cache, as the bulk left it
            fresh = Ledger.get_account(by_handlers, account_id)
            assert (cached.version, cached.paid, cached.bills_paid) == (
                fresh.version,
                fresh.paid,
                fresh.bills_paid,
            )
    finally:
        by_handlers.close()
        in_bulk.close()
