"""A hypothesis state machine: bank notices, annulments, bill payments and refunds, mixed,
against a simple model of each account's paid money and each bank's clearing balance.

Notices arrive one at a time and in batches, re-sent (duplicates) and re-used with other
content (conflicts); annulments come once or twice. After every step the postings of the
whole log sum to zero, every account's net paid and every bank's clearing balance match the
model, and a conflicting or repeated line changed nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.application import Ledger
from ledger.domain.postings import balances, postings_of
from ledger.engine.persistence import in_memory_env
from ledger.errors import LedgerError, NoticeConflictError
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.payments.commands import CreatePayment, RefundPayment
from ledger.registry.commands import OpenAccount
from storage.log import iter_events
from tests.fixtures import INN, KPP, setup_world, top_up

BANKS = ["044525225", "044525593"]
NUMBERS = ["0667000001", "0667000002"]
amounts = st.integers(min_value=1, max_value=300_000)


def line_for(order: int, account_number: str, amount: int) -> NoticeLine:
    return NoticeLine(
        line_no=1,
        order_id=f"{order:032d}",
        order_date=date(2026, 3, 15),
        action="",
        amount=amount,
        recipient_inn=INN,
        recipient_kpp=KPP,
        account_number=account_number,
    )


class NoticeMachine(RuleBasedStateMachine):
    @initialize()
    def world(self) -> None:
        self.ledger = Ledger(in_memory_env())
        self.world = setup_world(self.ledger, payer_id="anna")
        second = self.ledger.execute(
            OpenAccount.parse(
                supplier_id=self.world.supplier_id,
                account_number=NUMBERS[1],
                address="д. 2",
                els=None,
                idempotency_key="acc2",
            )
        )
        self.accounts = {NUMBERS[0]: self.world.account_id}
        self.accounts[NUMBERS[1]] = UUID(second.result["account_id"])
        top_up(self.ledger, self.world.wallet_id, "anna", 10_000_000, key="funds")
        self.paid = dict.fromkeys(self.accounts.values(), 0)  # net of refunds and annulments
        self.clearing = dict.fromkeys(BANKS, 0)
        # (bank, order) -> (line, annulled)
        self.notices: dict[tuple[str, int], tuple[NoticeLine, bool]] = {}
        self.payments: dict[UUID, tuple[UUID, int]] = {}  # id -> (account, refundable)
        self.orders = 0

    def _accept(self, bank: str, line: NoticeLine) -> None:
        self.notices[(bank, int(line.order_id))] = (line, False)
        self.paid[self.accounts[line.account_number or ""]] += line.amount or 0
        self.clearing[bank] += line.amount or 0

    @rule(bank=st.sampled_from(BANKS), number=st.sampled_from(NUMBERS), amount=amounts)
    def notice(self, bank: str, number: str, amount: int) -> None:
        self.orders += 1
        line = line_for(self.orders, number, amount)
        result = self.ledger.execute(ReceiveNotice(bank_bik=bank, line=line)).result
        assert result["outcome"] == "accepted"
        self._accept(bank, line)

    @rule(
        bank=st.sampled_from(BANKS),
        lines=st.lists(st.tuples(st.sampled_from(NUMBERS), amounts), min_size=1, max_size=6),
        resend=st.booleans(),
    )
    def register(self, bank: str, lines: list[tuple[str, int]], resend: bool) -> None:
        fresh = []
        for number, amount in lines:
            self.orders += 1
            fresh.append(line_for(self.orders, number, amount))
        known = [line for (b, _), (line, _) in self.notices.items() if b == bank][:3]
        batch = fresh + (known if resend else [])
        items = self.ledger.execute_batch([ReceiveNotice(bank_bik=bank, line=n) for n in batch])
        for line, item in zip(batch, items, strict=True):
            assert item.error is None, item.error
            expected = "duplicate" if line in known else "accepted"
            assert item.outcome.result["outcome"] == expected
            if expected == "accepted":
                self._accept(bank, line)

    @precondition(lambda self: bool(self.notices))
    @rule(data=st.data())
    def conflicting_notice(self, data: st.DataObject) -> None:
        (bank, _), (line, _) = data.draw(st.sampled_from(sorted(self.notices.items())))
        other = replace(line, amount=(line.amount or 0) + 1)
        try:
            self.ledger.execute(ReceiveNotice(bank_bik=bank, line=other))
        except NoticeConflictError:
            return
        raise AssertionError("the same OrderID with other content was accepted")

    @precondition(lambda self: bool(self.notices))
    @rule(data=st.data())
    def annul(self, data: st.DataObject) -> None:
        (bank, order), (line, annulled) = data.draw(st.sampled_from(sorted(self.notices.items())))
        command = AnnulNotice(bank_bik=bank, order_id=line.order_id, annul_date="2026-03-20")
        outcome = self.ledger.execute(command).result["outcome"]
        assert outcome == ("duplicate" if annulled else "annulled")
        if not annulled:
            self.notices[(bank, order)] = (line, True)
            self.paid[self.accounts[line.account_number or ""]] -= line.amount or 0
            self.clearing[bank] -= line.amount or 0

    @rule(number=st.sampled_from(NUMBERS), amount=amounts, bill=st.booleans())
    def pay(self, number: str, amount: int, bill: bool) -> None:
        account_id = self.accounts[number]
        self.orders += 1
        try:
            result = self.ledger.execute(
                CreatePayment.parse(
                    payer_id="anna",
                    account_id=account_id,
                    document_id="70АА000560-01-6103" if bill and number == NUMBERS[0] else None,
                    amount=amount,
                    method="wallet",
                    wallet_id=self.world.wallet_id,
                    confirm=True,
                    idempotency_key=f"pay-{self.orders}",
                )
            ).result
        except LedgerError:
            return  # e.g. the wallet ran dry: nothing moved
        self.payments[UUID(result["id"])] = (account_id, amount)
        self.paid[account_id] += amount

    @precondition(lambda self: any(left for _, left in self.payments.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        candidates = sorted((p, v) for p, v in self.payments.items() if v[1])
        payment_id, (account_id, left) = data.draw(st.sampled_from(candidates))
        amount = data.draw(st.integers(min_value=1, max_value=left))
        self.orders += 1
        self.ledger.execute(
            RefundPayment(
                payment_id=payment_id, amount=amount, idempotency_key=f"refund-{self.orders}"
            )
        )
        self.payments[payment_id] = (account_id, left - amount)
        self.paid[account_id] -= amount

    @invariant()
    def money_adds_up(self) -> None:
        if not hasattr(self, "ledger"):
            return
        postings = [p for _, e in iter_events(self.ledger) for p in postings_of(e)]
        totals = balances(postings)
        assert sum(totals.values()) == 0
        for bank, expected in self.clearing.items():
            assert totals.get(f"bank:{bank}:clearing", 0) == expected
        for account_id, expected in self.paid.items():
            assert self.ledger.get_account(account_id).paid == expected
            payable = f"payable:{self.world.supplier_id}:{account_id}"
            assert -totals.get(payable, 0) == expected

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()


NoticeMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestNotices = NoticeMachine.TestCase
