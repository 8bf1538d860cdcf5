"""Every read model against an independent model of the ledger (hypothesis).

Random sequences of ledger commands run against a real Ledger; each command that the ledger
accepts is also applied to `LedgerModel`, a plain-Python account of what balances, history and
the trial balance must be. After the sequence, the read models must equal the model.
The PostgreSQL variant lives in tests/integration/test_projections_pg.py and reuses this model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from ledger.errors import LedgerError
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
    IssueBill,
    LinkPayer,
    OpenAccount,
    RegisterSupplier,
    WithdrawBill,
)
from ledger.settings import Settings
from projections import queries
from projections.read_models import ReadModels
from projections.settings import ReadSettings
from tests.fixtures import ACCOUNT_NUMBER, INN, KPP, OTHER_INN, REQUISITES

PERIODS = ["2026-01", "2026-02", "2026-03"]


@dataclass
class MBill:
    account: int
    period: str
    amount_due: int
    order: int
    withdrawn: bool = False
    replaced_by: UUID | None = None


@dataclass
class MPayment:
    payer: str
    account: int
    bill: UUID | None
    amount: int
    method: str
    order: int
    status: str = "requires_confirmation"
    refunded: int = 0
    received: bool = False


@dataclass
class LedgerModel:
    """What the read models must show, from the commands the ledger accepted."""

    accounts: list[UUID] = field(default_factory=list)
    suppliers: list[UUID] = field(default_factory=list)
    """The supplier of each account, by the account's index."""
    wallets: dict[str, UUID] = field(default_factory=dict)
    wallet_balance: dict[UUID, int] = field(default_factory=dict)
    bills: dict[UUID, MBill] = field(default_factory=dict)
    payments: dict[UUID, MPayment] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def tick(self) -> int:
        self.counter += 1
        return self.counter

    def post(self, debit: str, credit: str, amount: int) -> None:
        self.ledger[debit] = self.ledger.get(debit, 0) + amount
        self.ledger[credit] = self.ledger.get(credit, 0) - amount

    def source(self, payment_id: UUID) -> str:
        p = self.payments[payment_id]
        return f"wallet:{self.wallets[p.payer]}" if p.method == "wallet" else "acquirer:clearing"

    def payable(self, payment_id: UUID) -> str:
        p = self.payments[payment_id]
        return f"payable:{self.suppliers[p.account]}:{self.accounts[p.account]}"

    def succeed(self, payment_id: UUID) -> None:
        p = self.payments[payment_id]
        p.status, p.received = "succeeded", True
        self.post(self.source(payment_id), self.payable(payment_id), p.amount)

    # --- expected balances ---------------------------------------------------------------------
    def final_bill(self, bill_id: UUID) -> UUID:
        while self.bills[bill_id].replaced_by is not None:
            bill_id = self.bills[bill_id].replaced_by  # type: ignore[assignment]
        return bill_id

    def expected_account(self, account: int) -> dict[str, object]:
        received = [p for p in self.payments.values() if p.account == account and p.received]
        paid = sum(p.amount for p in received)
        refunded = sum(p.refunded for p in received)
        current = sorted(
            (
                (b_id, b)
                for b_id, b in self.bills.items()
                if b.account == account and not b.withdrawn
            ),
            key=lambda item: (item[1].period, item[1].order),
        )
        direct: dict[UUID, int] = {}
        for p in received:
            if p.bill is not None:
                target = self.final_bill(p.bill)
                direct[target] = direct.get(target, 0) + p.amount - p.refunded
        capped = {b_id: min(direct.get(b_id, 0), b.amount_due) for b_id, b in current}
        free = paid - refunded - sum(capped.values())
        states = {}
        for b_id, b in self.bills.items():
            if b.account == account and b.withdrawn:
                states[str(b_id)] = (0, "withdrawn")
        for b_id, b in current:
            top_up = min(free, b.amount_due - capped[b_id])
            free -= top_up
            got = capped[b_id] + top_up
            status = "paid" if got >= b.amount_due else "partially_paid" if got else "unpaid"
            states[str(b_id)] = (got, status)
        accrued = sum(b.amount_due for _, b in current)
        return {
            "accrued": accrued,
            "paid": paid,
            "refunded": refunded,
            "due": max(0, accrued - paid + refunded),
            "advance": max(0, paid - refunded - accrued),
            "bills": states,
        }

    def history_status(self, p: MPayment) -> str:
        if p.refunded:
            return "refunded" if p.refunded == p.amount else "partially_refunded"
        return p.status


# --- commands ------------------------------------------------------------------------------
Command = Callable[[Ledger, LedgerModel], None]
amounts = st.integers(min_value=1, max_value=50_000)


def issue_bill(account: int, period: int, amount: int, replace: int | None) -> Command:
    def run(ledger: Ledger, model: LedgerModel) -> None:
        order = model.tick()
        olds = [b for b, m in model.bills.items() if m.account == account and not m.withdrawn]
        replaces = olds[replace % len(olds)] if (replace is not None and olds) else None
        outcome = ledger.execute(
            IssueBill.parse(
                account_id=model.accounts[account],
                document_id=f"70АА00056{account}-01-{order:04d}",
                period=PERIODS[period],
                lines=[{"service": "Отопление", "amount": amount}],
                due_date="2026-04-15",
                replaces=replaces,
                idempotency_key=f"bill-{order}",
            )
        )
        bill_id = UUID(outcome.result["bill_id"])
        model.bills[bill_id] = MBill(account, PERIODS[period], amount, order)
        if replaces is not None:
            model.bills[replaces].withdrawn = True
            model.bills[replaces].replaced_by = bill_id

    return run


def withdraw_bill(pick: int) -> Command:
    def run(ledger: Ledger, model: LedgerModel) -> None:
        live = [b for b, m in model.bills.items() if not m.withdrawn]
        if live:
            bill_id = live[pick % len(live)]
            ledger.execute(WithdrawBill(bill_id=bill_id, reason="test"))
            model.bills[bill_id].withdrawn = True

    return run


def top_up(payer: int, amount: int, ok: bool) -> Command:
    def run(ledger: Ledger, model: LedgerModel) -> None:
        order, payer_id = model.tick(), f"payer-{payer}"
        wallet_id = model.wallets[payer_id]
        requested = ledger.execute(
            RequestTopUp(
                wallet_id=wallet_id, payer_id=payer_id, amount=amount, idempotency_key=f"t{order}"
            )
        )
        ledger.execute(
            SettleTopUp(
                top_up_id=UUID(requested.result["top_up_id"]),
                succeeded=ok,
                amount=amount,
                acquirer_ref=f"acq-{order}",
            )
        )
        if ok:
            model.wallet_balance[wallet_id] += amount
            model.post("acquirer:clearing", f"wallet:{wallet_id}", amount)

    return run


def pay(
    payer: int, account: int, amount: int, by_wallet: bool, bill: int | None, confirm: bool
) -> Command:
    def run(ledger: Ledger, model: LedgerModel) -> None:
        order, payer_id = model.tick(), f"payer-{payer}"
        bills = [b for b, m in model.bills.items() if m.account == account and not m.withdrawn]
        bill_id = bills[bill % len(bills)] if (bill is not None and bills) else None
        outcome = ledger.execute(
            CreatePayment.parse(
                payer_id=payer_id,
                method="wallet" if by_wallet else "card",
                idempotency_key=f"p{order}",
                account_id=model.accounts[account],
                document_id=ledger.get_bill(bill_id).document_id if bill_id else None,
                amount=amount,
                wallet_id=model.wallets[payer_id] if by_wallet else None,
                confirm=confirm,
            )
        )
        payment_id = UUID(outcome.result["id"])
        model.payments[payment_id] = MPayment(
            payer_id, account, bill_id, amount, "wallet" if by_wallet else "card", order
        )
        if confirm:
            _confirmed(model, payment_id)

    return run


def _confirmed(model: LedgerModel, payment_id: UUID) -> None:
    p = model.payments[payment_id]
    if p.method == "wallet":
        model.wallet_balance[model.wallets[p.payer]] -= p.amount
        model.succeed(payment_id)
    else:
        p.status = "processing"


ELIGIBLE = {
    "confirm": {"requires_confirmation"},
    "cancel": {"requires_confirmation"},
    "succeed": {"processing"},
    "fail": {"processing"},
    "refund": {"succeeded"},
}


def act_on_payment(pick: int, action: str, amount: int) -> Command:
    def run(ledger: Ledger, model: LedgerModel) -> None:
        eligible = [p_id for p_id, p in model.payments.items() if p.status in ELIGIBLE[action]]
        if not eligible:
            return
        payment_id = eligible[pick % len(eligible)]
        p, order = model.payments[payment_id], model.tick()
        if action == "confirm":
            ledger.execute(
                ConfirmPayment(payment_id=payment_id, payer_id=p.payer, idempotency_key=f"c{order}")
            )
            _confirmed(model, payment_id)
        elif action == "cancel":
            ledger.execute(
                CancelPayment(payment_id=payment_id, payer_id=p.payer, idempotency_key=f"x{order}")
            )
            p.status = "canceled"
        elif action in ("succeed", "fail"):
            ledger.execute(
                SettleCardPayment(
                    payment_id=payment_id,
                    succeeded=action == "succeed",
                    amount=p.amount,
                    acquirer_ref=f"acq-{order}",
                )
            )
            if action == "succeed":
                model.succeed(payment_id)
            else:
                p.status = "failed"
        else:
            refund = min(amount, p.amount)
            ledger.execute(
                RefundPayment(payment_id=payment_id, amount=refund, idempotency_key=f"r{order}")
            )
            p.refunded += refund
            if p.method == "wallet":
                model.wallet_balance[model.wallets[p.payer]] += refund
            model.post(model.payable(payment_id), model.source(payment_id), refund)

    return run


paying = st.builds(
    pay,
    st.integers(0, 1),
    st.integers(0, 2),
    amounts,
    st.booleans(),
    st.none() | st.integers(0, 5),
    st.booleans(),
)
acting = st.builds(
    act_on_payment,
    st.integers(0, 50),
    st.sampled_from(["confirm", "cancel", "succeed", "succeed", "fail", "refund"]),
    amounts,
)
commands = st.one_of(
    st.builds(
        issue_bill, st.integers(0, 2), st.integers(0, 2), amounts, st.none() | st.integers(0, 5)
    ),
    st.builds(withdraw_bill, st.integers(0, 20)),
    st.builds(top_up, st.integers(0, 1), st.integers(1, 200_000), st.booleans()),
    paying,
    paying,
    paying,
    acting,
    acting,
    acting,
)


def set_up(ledger: Ledger) -> LedgerModel:
    """Two suppliers, three accounts (two at the first supplier) with two bills each, two
    payers with funded wallets."""
    model = LedgerModel()
    registered = []
    for index, inn in enumerate([INN, OTHER_INN]):
        supplier = ledger.execute(
            RegisterSupplier.parse(
                inn=inn,
                kpp=KPP,
                name=f"УК {index}",
                requisites=REQUISITES,
                idempotency_key=f"s{index}",
            )
        )
        registered.append(UUID(supplier.result["supplier_id"]))
    for index, (supplier, number) in enumerate(
        [(0, ACCOUNT_NUMBER), (0, "0667000002"), (1, "77-1")]
    ):
        account = ledger.execute(
            OpenAccount.parse(
                supplier_id=registered[supplier],
                account_number=number,
                address=f"кв. {index}",
                idempotency_key=f"a{index}",
            )
        )
        model.accounts.append(UUID(account.result["account_id"]))
        model.suppliers.append(registered[supplier])
        inn = [INN, OTHER_INN][supplier]
        ledger.execute(
            LinkPayer.parse(payer_id=f"payer-{index % 2}", supplier_inn=inn, account_number=number)
        )
    for payer in ("payer-0", "payer-1"):
        wallet = ledger.execute(OpenWallet(payer_id=payer, idempotency_key="w"))
        model.wallets[payer] = UUID(wallet.result["wallet_id"])
        model.wallet_balance[model.wallets[payer]] = 0
    # A starting point worth paying into: bills in two periods, funded wallets.
    for account in range(3):
        issue_bill(account, 1, 30_000, None)(ledger, model)
        issue_bill(account, 0, 20_000, None)(ledger, model)
    for payer in (0, 1):
        top_up(payer, 100_000, True)(ledger, model)
    return model


def run_commands(ledger: Ledger, model: LedgerModel, steps: list[Command]) -> int:
    """Run the steps; return the log position after them (rejected commands change nothing)."""
    for step in steps:
        with contextlib.suppress(LedgerError):
            step(ledger, model)
    return ledger.recorder.max_notification_id() or 0


def all_pages(rm: ReadModels, **scope: object) -> list[queries.PaymentEntry]:
    items: list[queries.PaymentEntry] = []
    cursor = None
    while True:
        page = queries.payment_history(rm, limit=3, cursor=cursor, **scope)  # type: ignore[arg-type]
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def check_read_models(rm: ReadModels, model: LedgerModel, position: int) -> None:
    rm.wait_for(position, timeout=30)  # what they hold is the test, not how soon
    for index, account_id in enumerate(model.accounts):
        balance = queries.account_balance(rm, account_id)
        expected = model.expected_account(index)
        assert balance is not None
        got = {k: getattr(balance, k) for k in ("accrued", "paid", "refunded", "due", "advance")}
        assert got == {k: v for k, v in expected.items() if k != "bills"}
        assert {b.bill_id: (b.paid, b.status) for b in balance.bills} == expected["bills"]
    for wallet_id, amount in model.wallet_balance.items():
        wallet = queries.wallet_balance(rm, wallet_id)
        assert wallet is not None and wallet.balance == amount
    newest_first = sorted(model.payments.items(), key=lambda item: -item[1].order)
    for payer in model.wallets:
        seen = [
            (e.payment_id, e.status, e.amount, e.refunded) for e in all_pages(rm, payer_id=payer)
        ]
        assert seen == [
            (str(p_id), model.history_status(p), p.amount, p.refunded)
            for p_id, p in newest_first
            if p.payer == payer
        ]
    for index, account_id in enumerate(model.accounts):
        seen_ids = [e.payment_id for e in all_pages(rm, account_id=account_id)]
        assert seen_ids == [str(p_id) for p_id, p in newest_first if p.account == index]
    for supplier_id in set(model.suppliers):
        succeeded = queries.payment_history(
            rm, supplier_id=supplier_id, statuses=["succeeded"], limit=200
        )
        assert [e.payment_id for e in succeeded.items] == [
            str(p_id)
            for p_id, p in newest_first
            if model.suppliers[p.account] == supplier_id and model.history_status(p) == "succeeded"
        ]
    trial = queries.trial_balance(rm)
    assert trial.total == 0
    assert {a.account: a.balance for a in trial.accounts} == {k: v for k, v in model.ledger.items()}


# --- the test (SQLite, embedded) -----------------------------------------------------------
@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Callable[[], tuple[Ledger, ReadModels]]]:
    opened: list[tuple[Ledger, ReadModels]] = []
    counter = iter(range(10**6))

    def make() -> tuple[Ledger, ReadModels]:
        ledger = Ledger(in_memory_env())
        read = ReadSettings(sqlite_path=tmp_path / f"read-{next(counter)}.sqlite3")
        rm = ReadModels(Settings(data_dir=tmp_path, database_url=None), ledger, read).start()
        opened.append((ledger, rm))
        return ledger, rm

    yield make
    for ledger, rm in opened:
        rm.close()
        ledger.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(commands, min_size=15, max_size=60))
def test_read_models_equal_the_model_after_any_commands(embedded, steps) -> None:  # type: ignore[no-untyped-def]
    ledger, rm = embedded()
    model = set_up(ledger)
    position = run_commands(ledger, model, steps)
    check_read_models(rm, model, position)
