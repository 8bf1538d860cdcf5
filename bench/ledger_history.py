"""A large, valid event history, made fast: for benchmarks and the read side's tests.

Commands run through real `Ledger`s in memory (so every event is one the write side really
emits), a few hundred accounts at a time, and each chunk's stored events are then appended to
the target application's log in large inserts. Every chunk has its own supplier and accounts,
so chunks never touch each other's aggregates.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from ledger.payments.commands import (
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleCardPayment,
    SettleTopUp,
)
from ledger.registry.commands import IssueBill, LinkPayer, OpenAccount, RegisterSupplier
from tests.fixtures import KPP, REQUISITES

LETTERS = "АБВГДЕЖИКЛМНОПРСТУФХЦЧШЭЮЯ"
INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
COPY_BATCH = 5000


def legal_inn(n: int) -> str:
    """A valid 10-digit ИНН of a legal entity, different for each n < 10**7."""
    head = f"77{n:07d}"
    check = sum(w * int(d) for w, d in zip(INN_WEIGHTS, head, strict=True)) % 11 % 10
    return f"{head}{check}"


def els(chunk: int, account: int) -> str:
    letters = LETTERS[chunk // 100 % 26] + LETTERS[chunk // 2600 % 26]
    return f"{chunk % 100:02d}{letters}{account:06d}"


class _Chunk:
    """One supplier with `accounts` accounts, each with a payer and a funded wallet."""

    def __init__(self, number: int, accounts: int, rng: random.Random) -> None:
        self.number, self.rng = number, rng
        self.ledger = Ledger(in_memory_env(), group_commit=False)
        inn = legal_inn(number)
        supplier = self.ledger.execute(
            RegisterSupplier.parse(
                inn=inn,
                kpp=KPP,
                name=f"УК {number}",
                requisites=REQUISITES,
                idempotency_key=f"s{number}",
            )
        )
        supplier_id = UUID(supplier.result["supplier_id"])
        self.accounts: list[tuple[UUID, str, UUID, list[UUID]]] = []
        for a in range(accounts):
            number_ = f"{a:010d}"
            account = self.ledger.execute(
                OpenAccount.parse(
                    supplier_id=supplier_id,
                    account_number=number_,
                    address=f"д. {a}",
                    els=els(number, a),
                    idempotency_key=f"a{number}-{a}",
                )
            )
            payer = f"payer-{number}-{a}"
            self.ledger.execute(
                LinkPayer.parse(payer_id=payer, supplier_inn=inn, account_number=number_)
            )
            wallet = self.ledger.execute(OpenWallet(payer_id=payer, idempotency_key="w"))
            self.accounts.append(
                (UUID(account.result["account_id"]), payer, UUID(wallet.result["wallet_id"]), [])
            )
        self.month = 0

    def month_of_activity(self) -> None:
        """Each account: a bill, a top-up, and one to three payments (some refunded)."""
        self.month += 1
        period = f"{2020 + self.month // 12}-{self.month % 12 + 1:02d}"
        ledger, rng = self.ledger, self.rng
        for index, (account_id, payer, wallet_id, bills) in enumerate(self.accounts):
            key = f"{self.month}-{index}"
            amount = rng.randint(100_00, 9000_00)
            document = f"{els(self.number, index)}-01-{self.month:04d}"
            bill = ledger.execute(
                IssueBill.parse(
                    account_id=account_id,
                    document_id=document,
                    period=period,
                    lines=[{"service": "Отопление", "amount": amount}],
                    due_date=f"{period}-15",
                    idempotency_key=f"b{self.number}-{key}",
                )
            )
            bills.append(UUID(bill.result["bill_id"]))
            top_up = ledger.execute(
                RequestTopUp(
                    wallet_id=wallet_id, payer_id=payer, amount=amount, idempotency_key=f"t{key}"
                )
            )
            ledger.execute(
                SettleTopUp(
                    top_up_id=UUID(top_up.result["top_up_id"]),
                    succeeded=True,
                    amount=amount,
                    acquirer_ref=f"t{key}",
                )
            )
            for n in range(rng.randint(1, 3)):
                self._pay(account_id, payer, wallet_id, document, amount // 3, f"{key}-{n}")

    def _pay(
        self, account_id: UUID, payer: str, wallet_id: UUID, document: str, amount: int, key: str
    ) -> None:
        ledger, rng = self.ledger, self.rng
        by_wallet = rng.random() < 0.5
        paid = ledger.execute(
            CreatePayment.parse(
                payer_id=payer,
                method="wallet" if by_wallet else "card",
                idempotency_key=f"p{key}",
                account_id=account_id,
                document_id=document if rng.random() < 0.7 else None,
                amount=amount,
                wallet_id=wallet_id if by_wallet else None,
                confirm=True,
            )
        )
        payment_id = UUID(paid.result["id"])
        if not by_wallet:
            ok = rng.random() < 0.9
            ledger.execute(
                SettleCardPayment(
                    payment_id=payment_id, succeeded=ok, amount=amount, acquirer_ref=f"c{key}"
                )
            )
            if not ok:
                return
        if rng.random() < 0.1:
            ledger.execute(
                RefundPayment(
                    payment_id=payment_id,
                    amount=amount // 2,
                    idempotency_key=f"r{self.number}-{key}",
                )
            )


def copy_log(source: Application, target: Application, *, after: int = 0) -> int:
    """Append `source`'s events after `after` to `target`'s log; returns how many."""
    copied = 0
    while True:
        notifications = source.recorder.select_notifications(
            start=after, limit=COPY_BATCH, inclusive_of_start=False
        )
        if not notifications:
            return copied
        target.recorder.insert_events(
            [
                StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                for n in notifications
            ]
        )
        copied += len(notifications)
        after = notifications[-1].id


def build_history(
    target: Application,
    events: int,
    *,
    accounts_per_chunk: int = 200,
    first_chunk: int = 0,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append at least `events` events to `target`'s log (up to one month of one chunk more)."""
    rng = random.Random(seed)
    written, number = 0, first_chunk
    while written < events:
        chunk = _Chunk(number, accounts_per_chunk, rng)
        copied_to = 0
        while written < events and chunk.month < 60:
            chunk.month_of_activity()
            n = copy_log(chunk.ledger, target, after=copied_to)
            copied_to += n
            written += n
            if progress is not None:
                progress(written)
        copied_to += copy_log(chunk.ledger, target, after=copied_to)
        chunk.ledger.close()
        number += 1
    return written
