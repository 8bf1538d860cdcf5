"""Wallet payments completed per second, in process, on PostgreSQL.

A payment is what a payer's app does: `create_payment(method="wallet")` then `confirm_payment`,
two commands and (without group commit) two transactions. Each thread pays from its own wallets
(a wallet is one payer's) into a shared pool of accounts, walking a different stripe of the pool,
so threads contend on the event store's table lock, not on one aggregate. Every run gets fresh
accounts and wallets: streams stay short, as in real life, and repeats start alike.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from bench.pg import throwaway_schema
from bench.world import Wallet, fund_wallets, open_accounts, register_supplier
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import ConfirmPayment, CreatePayment
from ledger.settings import Settings

AMOUNT = 100  # kopecks per payment


@contextmanager
def throwaway_ledger(url: str, *, group_commit: bool) -> Iterator[Ledger]:
    with throwaway_schema(url, "kvit_bench") as schema:
        settings = Settings(database_url=url, database_schema=schema, group_commit=group_commit)
        migrate(settings)
        ledger = build_ledger(settings)
        try:
            yield ledger
        finally:
            ledger.close()  # release the pool before the schema is dropped


class SaveCounter:
    """Counts transactions and version conflicts by wrapping this ledger's save() (bench only)."""

    def __init__(self, ledger: Ledger) -> None:
        self.saves = 0
        self.conflicts = 0
        self._lock = threading.Lock()
        original = ledger.save

        def counted(*objs: Any, **kwargs: Any) -> Any:
            try:
                recordings = original(*objs, **kwargs)
            except IntegrityError:
                with self._lock:
                    self.conflicts += 1
                raise
            with self._lock:
                self.saves += 1
            return recordings

        ledger.save = counted  # type: ignore[method-assign]


@dataclass
class Counters:
    """Cumulative counts on a ledger, read before and after a run."""

    saves: int = 0
    conflicts: int = 0
    batches: int = 0
    commands: int = 0

    @classmethod
    def read(cls, ledger: Ledger, saves: SaveCounter) -> Counters:
        committer = ledger._committer
        return cls(
            saves=saves.saves,
            conflicts=saves.conflicts,
            batches=committer.batches if committer else 0,
            commands=committer.commands if committer else 0,
        )

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.saves - other.saves,
            self.conflicts - other.conflicts,
            self.batches - other.batches,
            self.commands - other.commands,
        )


@dataclass
class PaymentRun:
    threads: int
    payments: int
    seconds: float
    counters: Counters
    latencies_ms: list[float] = field(repr=False)
    cpu_seconds: float = 0.0  # this process's CPU over the run (all threads)

    @property
    def per_second(self) -> float:
        return self.payments / self.seconds

    def summary(self) -> dict[str, Any]:
        cuts = statistics.quantiles(self.latencies_ms, n=100)
        return {
            "threads": self.threads,
            "payments": self.payments,
            "seconds": round(self.seconds, 4),
            "payments_per_second": round(self.per_second, 1),
            "latency_ms_p50": round(cuts[49], 2),
            "latency_ms_p99": round(cuts[98], 2),
            "cpu_ms_per_payment": round(1000 * self.cpu_seconds / self.payments, 3),
            "transactions": self.counters.saves,
            "version_conflicts": self.counters.conflicts,
            "group_commit_batches": self.counters.batches,
            "group_commit_commands": self.counters.commands,
        }


def pay(
    ledger: Ledger, wallet: Wallet, account_id: UUID, key: str, *, at_once: bool = False
) -> None:
    """The two-call flow (create, then confirm), or `confirm: true` in one call."""
    created = ledger.execute(
        CreatePayment.parse(
            payer_id=wallet.payer_id,
            method="wallet",
            wallet_id=wallet.wallet_id,
            account_id=account_id,
            amount=AMOUNT,
            confirm=at_once,
            idempotency_key=key,
        )
    )
    confirmed = (
        created
        if at_once
        else ledger.execute(
            ConfirmPayment(
                payment_id=UUID(created.result["id"]),
                payer_id=wallet.payer_id,
                idempotency_key=f"{key}-confirm",
            )
        )
    )
    # A benchmark that silently stops moving money would still look fast.
    if confirmed.result["status"] != "succeeded" or confirmed.result["replayed"]:
        raise RuntimeError(f"payment {key} did not succeed: {confirmed.result}")


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if t < total % parts else 0) for t in range(parts)]


@dataclass(frozen=True)
class Workload:
    payments: int  # per timed run, split across the threads
    accounts: int  # fresh for every run, so repeats start from the same state
    wallets: int  # fresh for every run, the same total whatever the thread count


def run_payments(
    ledger: Ledger,
    saves: SaveCounter,
    supplier_id: UUID,
    workload: Workload,
    *,
    threads: int,
    label: str,
    at_once: bool = False,
) -> PaymentRun:
    """Open accounts and fund wallets (untimed), then time the payments across `threads`."""
    shares = _shares(workload.payments, threads)
    per_thread = max(1, workload.wallets // threads)
    per_wallet = -(-max(shares) // per_thread)
    accounts = open_accounts(ledger, supplier_id, workload.accounts, label=label)
    payers = [f"{label}-t{t}-w{w}" for t in range(threads) for w in range(per_thread)]
    funded = fund_wallets(ledger, payers, balance=per_wallet * AMOUNT)
    stride = max(1, len(accounts) // threads)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        mine = funded[t * per_thread : (t + 1) * per_thread]
        start.wait()
        try:
            for i in range(shares[t]):
                if errors:  # another thread failed: the run is void, stop early
                    return
                began = time.perf_counter()
                account = accounts[(t * stride + i) % len(accounts)]
                pay(ledger, mine[i % len(mine)], account, f"{label}-t{t}-p{i}", at_once=at_once)
                latencies[t].append((time.perf_counter() - began) * 1000)
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)

    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    before = Counters.read(ledger, saves)
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu
    if errors:
        raise errors[0]
    return PaymentRun(
        threads=threads,
        payments=workload.payments,
        seconds=seconds,
        counters=Counters.read(ledger, saves) - before,
        latencies_ms=[ms for per_thread in latencies for ms in per_thread],
        cpu_seconds=cpu_seconds,
    )


@dataclass
class ModeResult:
    group_commit: bool
    runs: dict[int, list[PaymentRun]]  # by thread count
    at_once: bool = False  # `confirm: true` (one call) instead of create + confirm
    # The committer's own counts over the ledger's life, setup included.
    committer_totals: dict[str, Any] = field(default_factory=dict)

    def median(self, threads: int) -> float:
        return statistics.median(run.per_second for run in self.runs[threads])

    def commands_per_transaction(self, threads: int) -> float:
        # Over all repeats. Without group commit every command is its own transaction.
        runs = self.runs[threads]
        if not self.group_commit:
            return 1.0
        commands = sum(run.counters.commands for run in runs)
        return commands / max(1, sum(run.counters.batches for run in runs))

    def conflicts(self, threads: int) -> int:
        return sum(run.counters.conflicts for run in self.runs[threads])


def measure_mode(
    url: str,
    workload: Workload,
    *,
    group_commit: bool,
    threads: list[int],
    repeats: int,
    warmup: int,
    at_once: bool = False,
) -> ModeResult:
    """All thread counts for one setting of group commit and flow, in a schema of its own."""
    mode = ("gc" if group_commit else "nogc") + ("-once" if at_once else "")
    with throwaway_ledger(url, group_commit=group_commit) as ledger:
        saves = SaveCounter(ledger)
        supplier_id = register_supplier(ledger)
        if warmup:  # connections, imports and caches, so the first timed run is not special
            small = Workload(payments=warmup, accounts=16, wallets=16)
            run_payments(ledger, saves, supplier_id, small, threads=1, label="warmup")
        result = ModeResult(group_commit, {count: [] for count in threads}, at_once=at_once)
        # Interleave thread counts so any drift (the growing log, the server) hits each alike.
        for repeat in range(repeats):
            for count in threads:
                run = run_payments(
                    ledger,
                    saves,
                    supplier_id,
                    workload,
                    threads=count,
                    label=f"{mode}-r{repeat}-c{count}",
                    at_once=at_once,
                )
                result.runs[count].append(run)
        if ledger._committer is not None:
            batches, commands = ledger._committer.batches, ledger._committer.commands
            result.committer_totals = {
                "batches": batches,
                "commands": commands,
                "commands_per_batch": round(commands / max(1, batches), 3),
            }
        return result
