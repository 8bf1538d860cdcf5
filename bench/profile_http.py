"""Profile one process of the HTTP deployment under `wrk` wallet payments (`confirm: true`).

    .venv/bin/pip install py-spy          # not a project dependency: only for profiling
    .venv/bin/python -m bench.profile_http --role api --out /tmp/api.txt
    .venv/bin/python -m bench.profile_http --role writer --out /tmp/writer.svg
    .venv/bin/python -m bench.profile_http                 # no py-spy: CPU per payment only

The deployment is bench/http.py's (`kvit serve --workers 2` by default); once the residents are
seeded and the read models caught up, py-spy attaches to one process of the role (the busiest
API worker, the writer, `project`, `audit` follow or, with `--mail`, `mail`) while wrk pays for
`--seconds`. A `.txt` output holds collapsed stacks, summarised as bench/profile.py does; the CPU
per payment of every role is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from contextlib import nullcontext
from pathlib import Path

from bench.config import DEFAULT_DATABASE_URL
from bench.cpu import CpuMeter, cpu_seconds, role_pids
from bench.deployment import running, smtp_sink
from bench.http import AMOUNT, wait_caught_up
from bench.http_world import seed, write_residents
from bench.pg import throwaway_schema
from bench.profile import start_py_spy, stop_py_spy, summarise
from bench.wrk import ensure_wrk, run_wrk
from ledger.bootstrap import build_ledger
from ledger.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role", choices=("api", "writer", "project", "audit", "mail"), default="api"
    )
    parser.add_argument(
        "--out", help=".txt (collapsed stacks) or .svg; without it, no py-spy: CPU figures only"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument(
        "--mail", action="store_true", help="run `kvit mail` too, sending to a local SMTP sink"
    )
    spy = parser.add_mutually_exclusive_group()
    spy.add_argument("--idle", action="store_true", help="py-spy: count waiting threads too")
    spy.add_argument("--gil", action="store_true", help="py-spy: only the thread holding the GIL")
    args = parser.parse_args()
    url = os.environ.get("KVIT_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_wrk()
    with (
        smtp_sink() if args.mail else nullcontext(None) as mail_url,
        tempfile.TemporaryDirectory(prefix="kvit-profile-http-") as tmp,
        throwaway_schema(url, "kvit_profile_http") as schema,
        running(url, schema, Path(tmp), mail_url=mail_url, workers=args.workers) as dep,
    ):
        ledger = build_ledger(Settings(database_url=url, database_schema=schema))
        try:
            residents = seed(ledger, dep.env["KVIT_SECRET_KEY"], args.residents)
        finally:
            ledger.close()
        residents_file = write_residents(residents, Path(tmp) / "residents.txt")
        wait_caught_up(dep)
        processes = {p.name: p.popen.pid for p in dep.processes}
        serve = processes["serve"]
        roles = role_pids(processes, url, schema)
        tag = uuid.uuid4().hex[:8]
        pay_args = (str(residents_file), tag, str(AMOUNT))
        run_wrk("warm", dep.base_url, connections=8, seconds=2, script="pay.lua", args=pay_args)
        # The busiest process of the role: uvicorn's supervisor and spawn's resource tracker
        # are children of `kvit serve` too.
        target = max(
            (pid for pid, role in roles.items() if role == args.role and pid != serve),
            key=cpu_seconds,
        )
        meter = CpuMeter(url, schema)
        sampler = None if args.out is None else start_py_spy(args.out, spy_flags(args), pid=target)
        meter.begin(processes)
        result = run_wrk(
            "payments",
            dep.base_url,
            connections=args.connections,
            seconds=args.seconds,
            script="pay.lua",
            args=(str(residents_file), f"{tag}-p", str(AMOUNT)),
        )
        meter.end()
        if sampler is not None:
            stop_py_spy(sampler)
    print(
        f"{result.ok} payments in {result.seconds:.1f} s = {result.ok / result.seconds:.0f}/s,"
        f" p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; statuses {result.statuses};"
        f" load {os.getloadavg()[0]:.2f}"
    )
    per = meter.per_operation_ms(result.ok)
    print("CPU ms per payment: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    if args.out is None:
        return
    print(f"py-spy sampled {args.role} pid {target} (py-spy's own CPU counts in no role)")
    if args.out.endswith(".txt"):
        summarise(Path(args.out))


def spy_flags(args: argparse.Namespace) -> list[str]:
    return [flag for flag, on in (("--idle", args.idle), ("--gil", args.gil)) if on]


if __name__ == "__main__":
    main()
