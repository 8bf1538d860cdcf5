"""Profile one payments case after its setup, so only the timed part is sampled.

    .venv/bin/pip install py-spy          # not a project dependency: only for profiling
    .venv/bin/python -m bench.profile --threads 4 --py-spy /tmp/kvit.txt    # all threads
    .venv/bin/python -m bench.profile --threads 4 --py-spy /tmp/kvit.svg    # a flame graph
    .venv/bin/python -m bench.profile --cprofile /tmp/kvit.prof             # 1 thread, exact

py-spy attaches to this very process once setup is done; a `.txt` output holds collapsed stacks,
summarised here as the functions with the most samples (self and inclusive).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

from bench.config import DEFAULT_DATABASE_URL
from bench.payments import SaveCounter, Workload, pay, run_payments, throwaway_ledger
from bench.world import fund_wallets, open_accounts, register_supplier
from ledger.application import Ledger

FORMATS = {".txt": "raw", ".json": "speedscope", ".svg": "flamegraph"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--no-group-commit", action="store_true")
    tool = parser.add_mutually_exclusive_group(required=True)
    tool.add_argument("--py-spy", metavar="FILE", help="sample every thread with py-spy")
    tool.add_argument("--cprofile", metavar="FILE", help="trace with cProfile (1 thread)")
    parser.add_argument("--idle", action="store_true", help="py-spy: count waiting threads too")
    parser.add_argument(
        "--gil", action="store_true", help="py-spy: only the thread holding the GIL"
    )
    args = parser.parse_args()
    url = os.environ.get("KVIT_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    workload = Workload(payments=args.payments, accounts=256, wallets=64)
    with throwaway_ledger(url, group_commit=not args.no_group_commit) as ledger:
        saves = SaveCounter(ledger)
        supplier_id = register_supplier(ledger)
        warm = Workload(payments=100, accounts=16, wallets=16)
        run_payments(ledger, saves, supplier_id, warm, threads=1, label="warm")
        if args.cprofile:
            cprofile_one_thread(ledger, supplier_id, workload, args.cprofile)
            return
        # The accounts and wallets are opened inside run_payments: open them with py-spy off.
        extra = [flag for flag, on in (("--idle", args.idle), ("--gil", args.gil)) if on]
        sampler = start_py_spy(args.py_spy, extra)
        run = run_payments(
            ledger, saves, supplier_id, workload, threads=args.threads, label="profiled"
        )
        stop_py_spy(sampler)
        print(run.summary())
    if args.py_spy.endswith(".txt"):
        summarise(Path(args.py_spy))


def start_py_spy(output: str, extra: list[str], pid: int | None = None) -> subprocess.Popen[bytes]:
    """py-spy on `pid` (default: this process), until `stop_py_spy`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    fmt = FORMATS.get(Path(output).suffix, "flamegraph")
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid or os.getpid()),
        "--rate",
        "250",
        "--format",
        fmt,
        *extra,
    ]
    sampler = subprocess.Popen([*command, "--output", output, "--nonblocking"])
    time.sleep(1.0)  # let it attach before the work starts
    return sampler


def stop_py_spy(sampler: subprocess.Popen[bytes]) -> None:
    sampler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    sampler.wait(timeout=60)


def cprofile_one_thread(ledger: Ledger, supplier_id: UUID, workload: Workload, path: str) -> None:
    # cProfile sees only the thread that enables it, so the payments run on this one.
    accounts = open_accounts(ledger, supplier_id, workload.accounts, label="cprof")
    payers = [f"cprof-{w}" for w in range(workload.wallets)]
    wallets = fund_wallets(ledger, payers, balance=10**9)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(workload.payments):
        pay(ledger, wallets[i % len(wallets)], accounts[i % len(accounts)], f"cprof-{i}")
    profiler.disable()
    profiler.dump_stats(path)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def summarise(path: Path, top: int = 30) -> None:
    """Functions by share of samples: self (on top of the stack) and inclusive (anywhere)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
    for title, counter in (("self", own), ("inclusive", anywhere)):
        print(f"\n--- top {top} by {title} samples (of {total}) ---")
        for frame, n in counter.most_common(top):
            print(f"{100 * n / total:6.1f}%  {frame}")


if __name__ == "__main__":
    main()
