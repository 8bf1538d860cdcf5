"""Past one primary: two partitions of Kvit on this machine, and residents' wallets in one
paying accounts in the other, exactly once, with no distributed transaction (docs/scaling.md).

    python -m bench.partitions [--transfers 400]     # set up, pay, relay, check; prints figures
    python -m bench.partitions pay   --url U --a SA --b SB --transfers N
    python -m bench.partitions relay --url U --a SA --b SB [--crash-after K] [--until-drained]

Each partition is a Kvit event store of its own: here a schema on the local server, in
production a cluster with its own writer, read models and transparency log.
- **A** holds the residents' wallets. A transfer is an ordinary wallet payment in A to a
  *mirror* account: a personal account of the supplier "partition B" in A, numbered like the
  account it pays in B. Its events, committed in A's one transaction, are the outbox.
- **The relay** follows A's log from its cursor (a row in B's database). For each succeeded
  payment to the mirror it gives B an idempotent command keyed by the transfer: a notice of
  "bank" `BIK_A` whose OrderID is made from the payment id. B credits the account, or refuses
  (no such account), and then the relay refunds the payment in A, keyed by the transfer too.
  Only then does the cursor move: a crash in between redelivers, and B (or A) answers
  "duplicate". The money in flight sits on two clearing accounts that mirror each other: A's
  payables to the mirror supplier and B's `bank:BIK_A:clearing`; once the relay has drained
  they sum to zero, and so does the global trial balance.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import psycopg
from psycopg import sql

from bench.world import REQUISITES, SUPPLIER_INN
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.domain import Payment
from ledger.domain.postings import bank_clearing_account, postings_of
from ledger.errors import UnknownAccountError
from ledger.notices.commands import ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.payments.commands import (
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleTopUp,
)
from ledger.registry.commands import OpenAccount, RegisterSupplier
from ledger.settings import Settings
from storage.log import iter_events, read_stored
from storage.sql import Store

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BIK_A = "044525901"  # partition A as B sees it: a bank that posts notices
MIRROR_INN, KPP = "7707083893", "770101001"  # "partition B" as a supplier in A
PAYERS, ACCOUNTS = 8, 8
MISSING = "B-missing"  # an account B does not have: its transfers are refunded in A
FUNDS = 10_000_000
CURSOR = "partition_relay"
SUCCEEDED = Payment.Succeeded.TOPIC


@dataclass
class Partitions:
    url: str
    a_schema: str
    b_schema: str
    a: Ledger = field(init=False)
    b: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.a = build_ledger(self.settings(self.a_schema))
        self.b = build_ledger(self.settings(self.b_schema))

    def settings(self, schema: str) -> Settings:
        return Settings(database_url=self.url, database_schema=schema, _env_file=None)  # type: ignore[call-arg]

    def close(self) -> None:
        self.a.close()
        self.b.close()


def numbers() -> list[str]:
    return [f"B-{n}" for n in range(ACCOUNTS)] + [MISSING]


def plan(n: int) -> tuple[str, str, int]:
    """Transfer `n`: its payer, the B account it pays, its amount (the same on every resend)."""
    every = numbers()
    return f"payer-{n % PAYERS}", every[n % len(every)], 100 + n % 7


def set_up(url: str, a_schema: str, b_schema: str) -> None:
    """Both partitions' schemas, B's supplier and accounts, A's mirror and funded wallets."""
    for schema in (a_schema, b_schema):
        migrate(Settings(database_url=url, database_schema=schema, _env_file=None))  # type: ignore[call-arg]
    parts = Partitions(url, a_schema, b_schema)
    try:
        for ledger, inn, name in ((parts.b, SUPPLIER_INN, "УК Б"), (parts.a, MIRROR_INN, "Б")):
            made = ledger.execute(
                RegisterSupplier.parse(
                    inn=inn, kpp=KPP, name=name, requisites=REQUISITES, idempotency_key="supplier"
                )
            )
            supplier = UUID(made.result["supplier_id"])
            for number in numbers():
                if ledger is parts.b and number == MISSING:
                    continue
                ledger.execute(
                    OpenAccount.parse(
                        supplier_id=supplier,
                        account_number=number,
                        address=f"partition account {number}",
                        idempotency_key=f"account-{number}",
                    )
                )
        for p in range(PAYERS):
            opened = parts.a.execute(OpenWallet(payer_id=f"payer-{p}", idempotency_key="wallet"))
            requested = parts.a.execute(
                RequestTopUp(
                    wallet_id=UUID(opened.result["wallet_id"]),
                    payer_id=f"payer-{p}",
                    amount=FUNDS,
                    idempotency_key="top-up",
                )
            )
            parts.a.execute(
                SettleTopUp(
                    top_up_id=UUID(requested.result["top_up_id"]),
                    succeeded=True,
                    amount=FUNDS,
                    acquirer_ref=f"funds-{p}",
                )
            )
    finally:
        parts.close()


def pay(parts: Partitions, transfers: int, say: bool = False) -> float:
    """Send transfers 0..N-1 from A (resent ones are replays); the seconds it took."""
    started = time.perf_counter()
    wallets = {
        f"payer-{p}": parts.a.execute(OpenWallet(payer_id=f"payer-{p}", idempotency_key="wallet"))
        for p in range(PAYERS)
    }
    for n in range(transfers):
        payer, number, amount = plan(n)
        parts.a.execute(
            CreatePayment.parse(
                payer_id=payer,
                method="wallet",
                idempotency_key=f"transfer-{n}",
                supplier_inn=MIRROR_INN,
                account_number=number,
                wallet_id=UUID(wallets[payer].result["wallet_id"]),
                amount=amount,
                confirm=True,
            )
        )
        if say:
            print(f"sent {n}", flush=True)
    return time.perf_counter() - started


class Relay:
    """A's outbox (its log) into B's idempotent commands, then the cursor."""

    def __init__(self, parts: Partitions, crash_after: int = 0) -> None:
        self.parts = parts
        self.cursor_store = Store("postgres", parts.url, parts.b_schema, durable=True)
        self.crash_after = crash_after
        self.delivered = self.refunded = self.duplicates = 0
        with self.cursor_store.writing() as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {self.cursor_store.name(CURSOR)}"
                " (source TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )

    def position(self) -> int:
        with self.cursor_store.read() as tx:
            rows = tx.execute(
                f"SELECT position FROM {self.cursor_store.name(CURSOR)} WHERE source = %s",
                [self.parts.a_schema],
            )
        return int(rows[0][0]) if rows else 0

    def step(self, limit: int = 200) -> int:
        """Deliver what follows the cursor (up to `limit` events); how many events it read."""
        after = self.position()
        found = read_stored(self.parts.a, after=after, limit=limit, topics=[SUCCEEDED])
        for recorded in found:
            self.deliver(self.parts.a.get_payment(UUID(recorded.originator_id)))
        if found:
            with self.cursor_store.writing() as tx:
                tx.execute(
                    f"INSERT INTO {self.cursor_store.name(CURSOR)} (source, position)"
                    " VALUES (%s, %s) ON CONFLICT (source) DO UPDATE SET position ="
                    " excluded.position",
                    [self.parts.a_schema, found[-1].position],
                )
        return len(found)

    def deliver(self, payment: Payment) -> None:
        if payment.supplier_id != mirror_supplier(self.parts.a):
            return  # a payment inside A: not a transfer
        line = NoticeLine(
            line_no=1,
            order_id=order_id(payment.id),
            order_date=date(2026, 12, 1),
            action="",
            amount=payment.amount,
            recipient_inn=SUPPLIER_INN,
            recipient_kpp=KPP,
            account_number=payment.account_number,
            purpose=f"transfer {payment.id}",
        )
        try:
            done = self.parts.b.execute(ReceiveNotice(bank_bik=BIK_A, line=line)).result
            self.duplicates += done["outcome"] == "duplicate"
            self.delivered += done["outcome"] == "accepted"
        except UnknownAccountError:  # B refuses: give the money back in A, once
            refund = self.parts.a.execute(
                RefundPayment(
                    payment_id=payment.id,
                    amount=payment.amount,
                    idempotency_key=f"back-{payment.id}",
                )
            )
            self.refunded += 1
            self.duplicates += refund.position == 0  # nothing saved: a replay
        if self.crash_after and self.delivered + self.refunded >= self.crash_after:
            os._exit(9)  # B (or A's refund) committed, the cursor not moved: a crash between

    def drain(self) -> None:
        while self.step():
            pass

    def close(self) -> None:
        self.cursor_store.close()


def order_id(payment_id: UUID) -> str:
    """32 digits from the payment id; a leading 2 names no bank (so `BIK_A` may post it)."""
    return "2" + str(payment_id.int % 10**31).zfill(31)


def mirror_supplier(a: Ledger) -> UUID:
    return a.find_supplier_by_inn(MIRROR_INN).id


@dataclass(frozen=True)
class Check:
    partition_sums: tuple[int, int]
    """Each partition's postings summed: zero, as every event's are."""
    clearing: tuple[int, int]
    """A's payables to the mirror supplier, B's `bank:BIK_A:clearing` (debit-positive)."""
    credited: dict[str, int]
    """Transfers B credited, by OrderID: amount (one notice per transfer)."""
    refunded: int
    wallets_lost: int
    """What A's wallets lost, net of refunds: B's credits and nothing else."""

    @property
    def in_flight(self) -> int:
        """Money A sent that B has not credited yet (zero once the relay drained)."""
        return sum(self.clearing)


def check(parts: Partitions) -> Check:
    totals: list[dict[str, int]] = []
    credited: dict[str, int] = {}
    refunded = 0
    for ledger in (parts.a, parts.b):
        accounts: dict[str, int] = {}
        for _, event in iter_events(ledger):
            for posting in postings_of(event):
                accounts[posting["account"]] = (
                    accounts.get(posting["account"], 0) + posting["amount"]
                )
            if getattr(event, "bank_bik", None) == BIK_A:
                assert event.order_id not in credited, f"transfer {event.order_id} credited twice"
                credited[event.order_id] = event.amount
            refunded += isinstance(event, Payment.Refunded)
        totals.append(accounts)
    a, b = totals
    mirror = f"payable:{mirror_supplier(parts.a)}:"
    return Check(
        partition_sums=(sum(a.values()), sum(b.values())),
        clearing=(
            sum(v for k, v in a.items() if k.startswith(mirror)),
            b.get(bank_clearing_account(BIK_A), 0),
        ),
        credited=credited,
        refunded=refunded,
        wallets_lost=sum(v for k, v in a.items() if k.startswith("wallet:")) + FUNDS * PAYERS,
    )


def expected(transfers: int) -> tuple[int, int, int]:
    """(credited, refunded, credited kopecks) if every transfer 0..N-1 arrived exactly once."""
    plans = [plan(n) for n in range(transfers)]
    to_b = [amount for _, number, amount in plans if number != MISSING]
    return len(to_b), len(plans) - len(to_b), sum(to_b)


def simulate(url: str, transfers: int) -> None:
    tag = uuid.uuid4().hex[:8]
    a_schema, b_schema = f"part_a_{tag}", f"part_b_{tag}"
    set_up(url, a_schema, b_schema)
    parts = Partitions(url, a_schema, b_schema)
    relay = Relay(parts)
    try:
        paid = pay(parts, transfers)
        started = time.perf_counter()
        relay.drain()
        relayed = time.perf_counter() - started
        found = check(parts)
        credited, refunded, kopecks = expected(transfers)
        print(f"partitions A={a_schema} B={b_schema} on {url}")
        print(f"sent {transfers} transfers from A in {paid:.2f}s ({transfers / paid:.0f}/s)")
        print(
            f"relayed them to B in {relayed:.2f}s ({transfers / relayed:.0f}/s):"
            f" {relay.delivered} credited, {relay.refunded} refunded in A"
        )
        print(
            f"partition sums {found.partition_sums}; clearing A {found.clearing[0]:+,}"
            f" B {found.clearing[1]:+,}; in flight {found.in_flight}"
        )
        ok = (
            found.partition_sums == (0, 0)
            and found.in_flight == 0
            and (len(found.credited), found.refunded, sum(found.credited.values()))
            == (credited, refunded, kopecks)
            and found.wallets_lost == kopecks
        )
        print("global trial balance zero, nothing doubled" if ok else "MISMATCH")
    finally:
        relay.close()
        parts.close()
        drop(url, a_schema, b_schema)


def drop(url: str, *schemas: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for schema in schemas:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=["simulate", "pay", "relay"], default="simulate")
    parser.add_argument("--url", default=os.environ.get("KVIT_TEST_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--a")
    parser.add_argument("--b")
    parser.add_argument("--transfers", type=int, default=400)
    parser.add_argument("--crash-after", type=int, default=0)
    args = parser.parse_args()
    if args.step == "simulate":
        simulate(args.url, args.transfers)
        return
    parts = Partitions(args.url, args.a, args.b)
    try:
        if args.step == "pay":
            pay(parts, args.transfers, say=True)
        else:
            relay = Relay(parts, crash_after=args.crash_after)
            relay.drain()
            print(
                f"relayed: {relay.delivered} credited, {relay.refunded} refunded,"
                f" {relay.duplicates} duplicates",
                flush=True,
            )
            relay.close()
    finally:
        parts.close()


if __name__ == "__main__":
    main()
