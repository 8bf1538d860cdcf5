"""Matching against a separately written model: bills with several lines, wallet payments with
and without a bill, refunds, bank notices (by ИПД, by period, by account) and annulments, in
any order. The read model must equal the model, never match a line above its due, and account
for every kopeck (matched + advance = net paid, per receipt and per account)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from ledger.errors import LedgerError
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.payments.commands import CreatePayment, RefundPayment
from ledger.registry.commands import IssueBill
from ledger.settings import Settings
from projections import queries, receipts
from projections.read_models import ReadModels
from projections.settings import ReadSettings
from tests.fixtures import ACCOUNT_NUMBER, INN, KPP, REQUISITES, World, setup_world, top_up

BANK = "044525225"
PERIODS = ["2026-01", "2026-02", "2026-03", "2026-04"]


# --- the separately written model -------------------------------------------------------------
@dataclass
class MBill:
    bill_id: str
    period: str
    order: int
    lines: list[int]


@dataclass
class MReceipt:
    receipt_id: str
    order: int
    amount: int
    reversed: int = 0
    bill_id: str | None = None
    period: str | None = None


@dataclass
class Model:
    bills: list[MBill] = field(default_factory=list)
    receipts: list[MReceipt] = field(default_factory=list)

    def dues(self, bill: MBill) -> list[int]:
        """Negative lines cut the positive ones in proportion (largest remainder)."""
        positive = [max(a, 0) for a in bill.lines]
        cut = share(min(-sum(a for a in bill.lines if a < 0), sum(positive)), positive)
        return [p - c for p, c in zip(positive, cut, strict=True)]

    def expected(self) -> dict[str, tuple[dict[tuple[str, int], int], int]]:
        """receipt -> ({(bill, line): kopecks}, advance)."""
        left = {b.bill_id: self.dues(b) for b in self.bills}
        oldest = sorted(self.bills, key=lambda b: (b.period, b.order))
        out: dict[str, dict[tuple[str, int], int]] = {}
        rest: dict[str, int] = {}
        for r in sorted(self.receipts, key=lambda r: r.order):
            out[r.receipt_id], rest[r.receipt_id] = {}, r.amount - r.reversed
        named = {}
        for r in self.receipts:
            target = r.bill_id
            if target is None and r.period is not None:
                same = [b for b in oldest if b.period == r.period]
                target = same[0].bill_id if same else None
            named[r.receipt_id] = target

        def give(r: MReceipt, bill_id: str) -> None:
            amount = min(rest[r.receipt_id], sum(left[bill_id]))
            for i, part in enumerate(share(amount, left[bill_id])):
                if part:
                    left[bill_id][i] -= part
                    key = (bill_id, i)
                    out[r.receipt_id][key] = out[r.receipt_id].get(key, 0) + part
            rest[r.receipt_id] -= amount

        ordered = sorted(self.receipts, key=lambda r: r.order)
        for r in ordered:
            if named[r.receipt_id] is not None:
                give(r, named[r.receipt_id])  # type: ignore[arg-type]
        for r in ordered:
            for b in oldest:
                give(r, b.bill_id)
        return {k: (lines, rest[k]) for k, lines in out.items()}


def share(amount: int, weights: list[int]) -> list[int]:
    """Exact proportions, then the leftover kopecks to the largest fractions (earliest first)."""
    total = sum(weights)
    if amount <= 0 or total == 0:
        return [0] * len(weights)
    exact = [Fraction(amount * w, total) for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


# --- the commands -----------------------------------------------------------------------------
@dataclass
class Run:
    ledger: Ledger
    world: World
    model: Model
    payments: dict[str, int] = field(default_factory=dict)
    notices: dict[str, str] = field(default_factory=dict)
    """notice id -> OrderID"""
    documents: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def tick(self) -> int:
        self.counter += 1
        return self.counter

    def position(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0


def issue(lines: list[int], period: int) -> object:
    def run(r: Run) -> None:
        n = r.tick()
        document_id = f"70АА000560-01-{n:04d}"
        outcome = r.ledger.execute(
            IssueBill.parse(
                account_id=r.world.account_id,
                document_id=document_id,
                period=PERIODS[period],
                lines=[{"service": f"s{i}", "amount": a} for i, a in enumerate(lines)],
                due_date="2026-05-15",
                idempotency_key=f"bill-{n}",
            )
        )
        bill_id = outcome.result["bill_id"]
        r.documents[bill_id] = document_id
        r.model.bills.append(MBill(bill_id, PERIODS[period], r.position(), lines))

    return run


def pay(amount: int, bill: int | None) -> object:
    def run(r: Run) -> None:
        n = r.tick()
        bill_id = r.model.bills[bill % len(r.model.bills)].bill_id if bill is not None else None
        outcome = r.ledger.execute(
            CreatePayment.parse(
                payer_id=r.world.payer_id,
                method="wallet",
                idempotency_key=f"pay-{n}",
                account_id=r.world.account_id,
                document_id=r.documents[bill_id] if bill_id else None,
                amount=amount,
                wallet_id=r.world.wallet_id,
                confirm=True,
            )
        )
        payment_id = outcome.result["id"]
        r.payments[payment_id] = amount
        r.model.receipts.append(MReceipt(payment_id, r.position(), amount, bill_id=bill_id))

    return run


def refund(pick: int, amount: int) -> object:
    def run(r: Run) -> None:
        refundable = [x for x in r.model.receipts if x.receipt_id in r.payments]
        refundable = [x for x in refundable if x.amount > x.reversed]
        if not refundable:
            return
        target = refundable[pick % len(refundable)]
        amount_now = min(amount, target.amount - target.reversed)
        r.ledger.execute(
            RefundPayment(
                payment_id=UUID(target.receipt_id),
                amount=amount_now,
                idempotency_key=f"r{r.tick()}",
            )
        )
        target.reversed += amount_now

    return run


def notify(amount: int, bill: int | None, period: int | None) -> object:
    def run(r: Run) -> None:
        n = r.tick()
        bill_id = r.model.bills[bill % len(r.model.bills)].bill_id if bill is not None else None
        line = NoticeLine(
            line_no=1,
            order_id=f"1{BANK}{n:022d}",
            order_date=date(2026, 3, 15),
            action="",
            amount=amount,
            commission=amount // 100,
            recipient_inn=INN,
            recipient_kpp=KPP,
            bik=REQUISITES["bik"],
            settlement_account=REQUISITES["settlement_account"],
            account_number=None if bill_id else ACCOUNT_NUMBER,
            document_id=r.documents[bill_id] if bill_id else None,
            period=PERIODS[period] if period is not None and not bill_id else None,
        )
        result = r.ledger.execute(ReceiveNotice(bank_bik=BANK, line=line)).result
        notice_id = str(result["notice_id"])
        r.notices[notice_id] = line.order_id
        r.model.receipts.append(
            MReceipt(notice_id, r.position(), amount, bill_id=bill_id, period=line.period)
        )

    return run


def annul(pick: int) -> object:
    def run(r: Run) -> None:
        live = [x for x in r.model.receipts if x.receipt_id in r.notices and not x.reversed]
        if not live:
            return
        target = live[pick % len(live)]
        r.ledger.execute(
            AnnulNotice(
                bank_bik=BANK, order_id=r.notices[target.receipt_id], annul_date="2026-03-20"
            )
        )
        target.reversed = target.amount

    return run


line_amounts = st.lists(st.integers(-5_000, 60_000), min_size=1, max_size=4).filter(
    lambda xs: sum(xs) >= 0
)
money = st.integers(1, 1_200_000)
commands = st.lists(
    st.one_of(
        st.builds(issue, line_amounts, st.integers(0, 3)),
        st.builds(pay, money, st.none() | st.integers(0, 9)),
        st.builds(refund, st.integers(0, 9), money),
        st.builds(notify, money, st.none() | st.integers(0, 9), st.none() | st.integers(0, 3)),
        st.builds(annul, st.integers(0, 9)),
    ),
    max_size=14,
)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[list[tuple[Ledger, ReadModels]]]:
    opened: list[tuple[Ledger, ReadModels]] = []
    yield opened
    for ledger, rm in opened:
        rm.close()
        ledger.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=commands)
def test_matching_equals_the_model_and_accounts_for_every_kopeck(
    steps: list[object], tmp_path: Path, embedded: list[tuple[Ledger, ReadModels]]
) -> None:
    # The previous example's followers stop first: 60 of them polling side by side once made
    # the last examples slow.
    while embedded:
        done_ledger, done_rm = embedded.pop()
        done_rm.close()
        done_ledger.close()
    ledger = Ledger(in_memory_env())
    read = ReadSettings(sqlite_path=tmp_path / f"read-{uuid4().hex}.sqlite3")
    rm = ReadModels(Settings(data_dir=tmp_path, database_url=None), ledger, read).start()
    embedded.append((ledger, rm))
    world = setup_world(ledger, wallet_balance=0)
    top_up(ledger, world.wallet_id, world.payer_id, 10_000_000, key="fund")
    model = Model()
    first = ledger.get_bill(world.bill_id)
    model.bills.append(
        MBill(str(world.bill_id), first.period, 0, [line["amount"] for line in first.lines])
    )
    r = Run(ledger, world, model, documents={str(world.bill_id): first.document_id})
    for step in steps:
        with contextlib.suppress(LedgerError):
            step(r)  # type: ignore[operator]
    rm.wait_for(r.position(), timeout=30)  # correctness here, not latency

    with rm.store.read() as tx:
        found = receipts.matches_of(tx, (x.receipt_id for x in model.receipts))
    expected = model.expected()
    assert set(found) == set(expected)
    for f in found.values():
        event(f"{f.kind} {f.match_status}")
    per_line: dict[tuple[str, int], int] = {}
    for receipt_id, (lines, advance) in expected.items():
        got = found[receipt_id]
        assert {(m.bill_id, m.line): m.amount for m in got.lines} == lines
        assert got.advance == advance
        mine = next(x for x in model.receipts if x.receipt_id == receipt_id)
        assert got.matched + got.advance == mine.amount - mine.reversed
        for m in got.lines:
            per_line[(m.bill_id, m.line)] = per_line.get((m.bill_id, m.line), 0) + m.amount
    dues = {(b.bill_id, i): d for b in model.bills for i, d in enumerate(model.dues(b))}
    assert all(amount <= dues[key] for key, amount in per_line.items())
    balance = queries.account_balance(rm, world.account_id)
    assert balance is not None
    net_paid = balance.paid - balance.refunded
    assert sum(f.matched + f.advance for f in found.values()) == net_paid
    if not any(x.period and not x.bill_id for x in model.receipts):
        # Without period-only notices, bill totals are the account balance's allocation.
        by_bill: dict[str, int] = {}
        for (bill_id, _), amount in per_line.items():
            by_bill[bill_id] = by_bill.get(bill_id, 0) + amount
        assert {b.bill_id: b.paid for b in balance.bills if b.paid} == by_bill
        assert balance.advance == sum(f.advance for f in found.values())
