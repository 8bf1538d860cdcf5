"""A hypothesis state machine: the ledger against a simple model.

Drives suppliers, accounts, bills, wallets, top-ups, payments, confirmations, acquirer outcomes,
cancels, refunds and retried idempotency keys. After every step:
- postings over the whole log sum to zero, and each wallet's postings equal its balance;
- no wallet is below zero, and every wallet and account matches the model;
- a retried key changed nothing;
- replaying the whole log into fresh aggregates reproduces the repository's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from ledger.application import Ledger
from ledger.domain.postings import postings_of
from ledger.engine.persistence import in_memory_env
from ledger.errors import LedgerError
from ledger.payments.commands import CreatePayment, RequestTopUp, SettleCardPayment, SettleTopUp
from ledger.registry.commands import LinkPayer
from storage.log import iter_events
from tests.commands import execute
from tests.fixtures import REQUISITES

SUPPLIER_INNS = ["7701234560", "7707083893"]
PAYERS = ["anna", "boris"]
amounts = st.integers(min_value=1, max_value=50_000)
small_amounts = st.integers(min_value=1, max_value=5_000)
mostly_true = st.sampled_from([True, True, True, False])
MAX_EACH = 3  # few accounts and wallets, so that steps go into paying with them


@dataclass
class ModelPayment:
    payer: str
    account: UUID
    bill: UUID | None
    amount: int
    method: str
    wallet: UUID | None
    status: str = "requires_confirmation"
    refunded: int = 0


@dataclass
class Model:
    wallets: dict[UUID, tuple[str, int]] = field(default_factory=dict)  # id -> (owner, balance)
    accounts: dict[UUID, UUID] = field(default_factory=dict)  # id -> supplier
    account_paid: dict[UUID, int] = field(default_factory=dict)
    account_accrued: dict[UUID, int] = field(default_factory=dict)
    bills: dict[UUID, tuple[UUID, int]] = field(default_factory=dict)  # id -> (account, due)
    top_ups: dict[UUID, tuple[UUID, int, str]] = field(default_factory=dict)
    payments: dict[UUID, ModelPayment] = field(default_factory=dict)
    # (name, kwargs, result) of every keyed command that succeeded, for retries.
    keyed: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def credit(self, wallet: UUID, amount: int) -> None:
        owner, balance = self.wallets[wallet]
        self.wallets[wallet] = (owner, balance + amount)


class LedgerMachine(RuleBasedStateMachine):
    suppliers = Bundle("suppliers")
    accounts = Bundle("accounts")
    bills = Bundle("bills")
    wallets = Bundle("wallets")
    top_ups = Bundle("top_ups")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(in_memory_env())
        self.model = Model()
        self.counter = 0

    def key(self) -> str:
        self.counter += 1
        return f"key-{self.counter}"

    def keyed(self, command: str, /, **kwargs: Any) -> dict[str, Any]:
        result = execute(self.ledger, command, **kwargs).result
        self.model.keyed.append((command, kwargs, result))
        return result  # type: ignore[no-any-return]

    # --- registry ------------------------------------------------------------------------------
    @initialize(target=suppliers)
    def register_suppliers(self) -> Any:
        return multiple(
            *(
                UUID(
                    self.keyed(
                        "register_supplier",
                        inn=inn,
                        kpp="770101001",
                        name=f"УК {inn}",
                        requisites=REQUISITES,
                        idempotency_key=self.key(),
                    )["supplier_id"]
                )
                for inn in SUPPLIER_INNS
            )
        )

    @precondition(lambda self: len(self.model.accounts) < MAX_EACH)
    @rule(target=accounts, supplier=suppliers, payer=st.sampled_from(PAYERS))
    def open_account(self, supplier: UUID, payer: str) -> UUID:
        number = f"LS-{self.counter}"
        result = self.keyed(
            "open_account",
            supplier_id=supplier,
            account_number=number,
            address="ул. Примерная, 1",
            idempotency_key=self.key(),
        )
        account_id = UUID(result["account_id"])
        inn = self.ledger.get_supplier(supplier).inn
        self.ledger.execute(
            LinkPayer.parse(payer_id=payer, supplier_inn=inn, account_number=number)
        )
        self.model.accounts[account_id] = supplier
        self.model.account_paid[account_id] = 0
        self.model.account_accrued[account_id] = 0
        return account_id

    @precondition(lambda self: len(self.model.bills) < 2 * MAX_EACH)
    @rule(target=bills, account=accounts, lines=st.lists(amounts, min_size=1, max_size=3))
    def issue_bill(self, account: UUID, lines: list[int]) -> UUID:
        document_id = f"70АА{self.counter:06d}-01-{self.counter % 10000:04d}"
        result = self.keyed(
            "issue_bill",
            account_id=account,
            document_id=document_id,
            period="2026-03",
            lines=[{"service": f"s{i}", "amount": a} for i, a in enumerate(lines)],
            due_date="2026-04-15",
            idempotency_key=self.key(),
        )
        bill_id = UUID(result["bill_id"])
        self.model.bills[bill_id] = (account, sum(lines))
        self.model.account_accrued[account] += sum(lines)
        return bill_id

    # --- wallets -------------------------------------------------------------------------------
    @precondition(lambda self: len(self.model.wallets) < MAX_EACH)
    @rule(target=wallets, payer=st.sampled_from(PAYERS))
    def open_wallet(self, payer: str) -> UUID:
        wallet_id = UUID(
            self.keyed("open_wallet", payer_id=payer, idempotency_key=self.key())["wallet_id"]
        )
        self.model.wallets[wallet_id] = (payer, 0)
        return wallet_id

    @rule(target=top_ups, wallet=wallets, amount=st.integers(1, 200_000))
    def request_top_up(self, wallet: UUID, amount: int) -> UUID:
        owner, _ = self.model.wallets[wallet]
        result = self.keyed(
            "request_top_up",
            wallet_id=wallet,
            payer_id=owner,
            amount=amount,
            idempotency_key=self.key(),
        )
        top_up_id = UUID(result["top_up_id"])
        self.model.top_ups[top_up_id] = (wallet, amount, "processing")
        return top_up_id

    @rule(top_up=top_ups, succeeded=mostly_true)
    def settle_top_up(self, top_up: UUID, succeeded: bool) -> None:
        wallet, amount, status = self.model.top_ups[top_up]
        wanted = "succeeded" if succeeded else "failed"
        try:
            self.ledger.execute(
                SettleTopUp(
                    top_up_id=top_up,
                    succeeded=succeeded,
                    amount=amount,
                    acquirer_ref=f"acq-{top_up}",
                )
            )
        except LedgerError as error:
            assert status not in ("processing", wanted), error
            return
        if status == "processing":
            self.model.top_ups[top_up] = (wallet, amount, wanted)
            if succeeded:
                self.model.credit(wallet, amount)
        else:
            assert status == wanted  # a replay of the same outcome

    # --- payments ------------------------------------------------------------------------------
    @rule(
        target=payments,
        account=accounts,
        wallet=wallets,
        method=st.sampled_from(["card", "wallet"]),
        amount=st.one_of(st.none(), small_amounts),
        confirm=st.booleans(),
    )
    def create_payment(
        self, account: UUID, wallet: UUID, method: str, amount: int | None, confirm: bool
    ) -> Any:
        owner, balance = self.model.wallets[wallet]
        due = max(0, self.model.account_accrued[account] - self.model.account_paid[account])
        effective = amount if amount is not None else due
        try:
            result = self.keyed(
                "create_payment",
                payer_id=owner,
                account_id=account,
                method=method,
                wallet_id=wallet,
                amount=amount,
                confirm=confirm,
                idempotency_key=self.key(),
            )
        except LedgerError as error:
            assert effective == 0 or (method == "wallet" and confirm and effective > balance), error
            return multiple()
        payment = ModelPayment(
            owner, account, None, effective, method, wallet if method == "wallet" else None
        )
        if confirm:
            self._confirmed(payment)
        assert result["status"] == payment.status and result["amount"] == effective
        payment_id = UUID(result["id"])
        self.model.payments[payment_id] = payment
        return payment_id

    @rule(target=payments, account=accounts, data=st.data())
    def pay_affordably_from_a_wallet(self, account: UUID, data: st.DataObject) -> Any:
        """The happy path, steered: a funded wallet pays part of its balance at once."""
        funded = sorted(w for w, (_, balance) in self.model.wallets.items() if balance > 0)
        if not funded:
            return multiple()
        wallet = data.draw(st.sampled_from(funded))
        amount = data.draw(st.integers(1, self.model.wallets[wallet][1]))
        return self.create_payment(account, wallet, "wallet", amount, True)

    def _confirmed(self, payment: ModelPayment) -> None:
        if payment.method == "card":
            payment.status = "processing"
            return
        assert payment.wallet is not None
        self.model.credit(payment.wallet, -payment.amount)
        self._succeeded(payment)

    def _succeeded(self, payment: ModelPayment) -> None:
        payment.status = "succeeded"
        self.model.account_paid[payment.account] += payment.amount

    @rule(payment=payments)
    def confirm_payment(self, payment: UUID) -> None:
        model = self.model.payments[payment]
        balance = self.model.wallets[model.wallet][1] if model.wallet else 0
        try:
            self.keyed(
                "confirm_payment",
                payment_id=payment,
                payer_id=model.payer,
                idempotency_key=self.key(),
            )
        except LedgerError as error:
            assert model.status != "requires_confirmation" or (
                model.method == "wallet" and model.amount > balance
            ), error
            return
        assert model.status == "requires_confirmation"
        self._confirmed(model)

    @rule(payment=payments, succeeded=st.booleans())
    def settle_card_payment(self, payment: UUID, succeeded: bool) -> None:
        model = self.model.payments[payment]
        try:
            self.ledger.execute(
                SettleCardPayment(
                    payment_id=payment, succeeded=succeeded, amount=model.amount, acquirer_ref="acq"
                )
            )
        except LedgerError:
            wanted = "succeeded" if succeeded else "failed"
            assert model.method == "wallet" or model.status not in ("processing", wanted)
            return
        if model.status == "processing":
            if succeeded:
                self._succeeded(model)
            else:
                model.status = "failed"

    @rule(payment=payments)
    def cancel_payment(self, payment: UUID) -> None:
        model = self.model.payments[payment]
        try:
            self.keyed(
                "cancel_payment",
                payment_id=payment,
                payer_id=model.payer,
                idempotency_key=self.key(),
            )
        except LedgerError:
            assert model.status != "requires_confirmation"
            return
        model.status = "canceled"

    @rule(payment=payments, amount=small_amounts)
    def refund_payment(self, payment: UUID, amount: int) -> None:
        model = self.model.payments[payment]
        try:
            self.keyed(
                "refund_payment", payment_id=payment, amount=amount, idempotency_key=self.key()
            )
        except LedgerError:
            assert model.status != "succeeded" or amount > model.amount - model.refunded
            return
        model.refunded += amount
        self.model.account_paid[model.account] -= amount
        if model.wallet is not None:
            self.model.credit(model.wallet, amount)

    @rule(data=st.data())
    def refund_part_of_a_succeeded_payment(self, data: st.DataObject) -> None:
        refundable = sorted(
            p
            for p, m in self.model.payments.items()
            if m.status == "succeeded" and m.refunded < m.amount
        )
        if refundable:
            payment = data.draw(st.sampled_from(refundable))
            model = self.model.payments[payment]
            self.refund_payment(payment, data.draw(st.integers(1, model.amount - model.refunded)))

    # --- retries -------------------------------------------------------------------------------
    @rule(data=st.data())
    def retry_a_key(self, data: st.DataObject) -> None:
        if not self.model.keyed:
            return
        name, kwargs, result = data.draw(st.sampled_from(self.model.keyed))
        before = self.ledger.recorder.max_notification_id()
        again = execute(self.ledger, name, **kwargs)
        assert again.result == {**result, "replayed": True}
        assert self.ledger.recorder.max_notification_id() == before

    # --- batches: many commands, one transaction, each its own answer -------------------------
    @rule(
        target=payments,
        specs=st.lists(
            st.tuples(accounts, wallets, st.one_of(st.none(), small_amounts), st.booleans()),
            min_size=1,
            max_size=4,
        ),
    )
    def pay_in_a_batch(self, specs: list[tuple[UUID, UUID, int | None, bool]]) -> Any:
        """Wallet payments in one batch: each succeeds or fails as it would alone, in order."""
        calls = [
            {
                "payer_id": self.model.wallets[wallet][0],
                "account_id": account,
                "method": "wallet",
                "wallet_id": wallet,
                "amount": amount,
                "confirm": confirm,
                "idempotency_key": self.key(),
            }
            for account, wallet, amount, confirm in specs
        ]
        items = self.ledger.execute_batch([CreatePayment.parse(**call) for call in calls])
        created = []
        for call, item in zip(calls, items, strict=True):
            account, wallet = call["account_id"], call["wallet_id"]
            balance = self.model.wallets[wallet][1]
            due = max(0, self.model.account_accrued[account] - self.model.account_paid[account])
            effective = call["amount"] if call["amount"] is not None else due
            if item.error is not None:
                assert effective == 0 or (call["confirm"] and effective > balance), item.error
                continue
            assert item.outcome is not None
            payment = ModelPayment(call["payer_id"], account, None, effective, "wallet", wallet)
            if call["confirm"]:
                self._confirmed(payment)
            result = item.outcome.result
            assert (result["status"], result["amount"], result["replayed"]) == (
                payment.status,
                effective,
                False,
            )
            self.model.payments[UUID(result["id"])] = payment
            self.model.keyed.append(("create_payment", call, result))
            created.append(UUID(result["id"]))
        return multiple(*created)

    @rule(data=st.data())
    def retry_keys_in_a_batch(self, data: st.DataObject) -> None:
        """A register sent twice: every payment in it is a replay and nothing is written."""
        sent = [(k, r) for name, k, r in self.model.keyed if name == "create_payment"]
        if not sent:
            return
        picked = data.draw(st.lists(st.sampled_from(sent), min_size=1, max_size=4))
        before = self.ledger.recorder.max_notification_id()
        items = self.ledger.execute_batch([CreatePayment.parse(**k) for k, _ in picked])
        assert [i.outcome.result if i.outcome else i.error for i in items] == [
            {**r, "replayed": True} for _, r in picked
        ]
        assert self.ledger.recorder.max_notification_id() == before

    @rule(data=st.data())
    def reuse_a_key_for_something_else(self, data: st.DataObject) -> None:
        if not self.model.wallets:
            return
        wallet = data.draw(st.sampled_from(sorted(self.model.wallets)))
        owner, _ = self.model.wallets[wallet]
        used = [
            k
            for name, k, _ in self.model.keyed
            if name == "request_top_up" and k["payer_id"] == owner
        ]
        if not used:
            return
        before = self.ledger.recorder.max_notification_id()
        try:
            self.ledger.execute(
                RequestTopUp(
                    wallet_id=wallet,
                    payer_id=owner,
                    amount=10**9,
                    idempotency_key=used[0]["idempotency_key"],
                )
            )
        except LedgerError as error:
            assert error.code == "idempotency_key_reused"
        else:
            raise AssertionError("a reused key was accepted")
        assert self.ledger.recorder.max_notification_id() == before

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def postings_balance_and_match_the_wallets(self) -> None:
        postings = [p for _, e in iter_events(self.ledger) for p in postings_of(e)]
        assert sum(p["amount"] for p in postings) == 0
        for wallet_id, (_, balance) in self.model.wallets.items():
            assert balance >= 0
            on_log = -sum(p["amount"] for p in postings if p["account"] == f"wallet:{wallet_id}")
            assert on_log == balance == self.ledger.get_wallet(wallet_id).balance

    @invariant()
    def accounts_and_payments_match_the_model(self) -> None:
        for account_id, paid in self.model.account_paid.items():
            account = self.ledger.get_account(account_id)
            assert (account.paid, account.accrued) == (paid, self.model.account_accrued[account_id])
        for payment_id, model in self.model.payments.items():
            payment = self.ledger.get_payment(payment_id)
            assert (str(payment.status), payment.refunded) == (model.status, model.refunded)

    def teardown(self) -> None:
        self.replay_reproduces_state()
        self.ledger.close()

    def replay_reproduces_state(self) -> None:
        rebuilt: dict[UUID, Any] = {}
        for _, event in iter_events(self.ledger):
            rebuilt[event.originator_id] = event.mutate(rebuilt.get(event.originator_id))
        for aggregate_id, aggregate in rebuilt.items():
            stored = self.ledger.repository.get(aggregate_id)
            assert vars(aggregate) == vars(stored)


LedgerMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerStateMachine = LedgerMachine.TestCase
