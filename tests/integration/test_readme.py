"""The README's commands run: its "API in five calls" block and its offline receipt check, as
written, against a real `kvit serve` on the demo database (embedded SQLite), with `kvit` on the
PATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port, kvit_serve

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARKER = "<!-- readme-five-calls: tests/integration/test_readme.py runs this block -->"
RECEIPT = "<!-- readme-receipt: tests/integration/test_readme.py runs this block -->"


def block(marker: str = MARKER) -> str:
    text = (REPO / "README.md").read_text()
    after = text[text.index(marker) + len(marker) :]
    found = re.search(r"```sh\n(.*?)```", after, flags=re.S)
    assert found, f"the README's block after {marker} is gone"
    return found.group(1)


def five_calls() -> str:
    return block(MARKER)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env.update(KVIT_DATA_DIR=str(tmp_path / "var"), PATH=f"{BIN}:{env.get('PATH', '')}")
    # The log is named after the public URL: `kvit demo` signs its checkpoint under the name
    # `kvit serve` will give the log on this port (the README's run both on 8000).
    env.update(KVIT_PUBLIC_URL=base)
    demo = subprocess.run(
        ["kvit", "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert demo.returncode == 0, demo.stderr
    with kvit_serve(env, port=port, cwd=tmp_path) as served:
        assert served == base
        yield base, env


def test_the_readmes_five_calls_pay_and_show_it_and_a_receipt_checks_out_offline(
    demo_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = demo_server
    calls = five_calls().replace("BASE=http://127.0.0.1:8000", f"BASE={base}", 1)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", calls],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    outputs = [json.loads(chunk) for chunk in re.findall(r"\{.*?\}|\d+", done.stdout, flags=re.S)]
    payment, history, balance = outputs
    assert payment["status"] == "succeeded" and payment["amount"] > 0
    assert history == {"status": "succeeded", "amount": payment["amount"]}
    assert isinstance(balance, int) and balance >= 0

    # The offline receipt check, after the five calls (it reads their $BASE and $ME).
    given = [line for line in calls.splitlines() if line.startswith(("BASE=", "ME="))]
    check = block(RECEIPT).replace("docs/verify_receipt.py", str(REPO / "docs/verify_receipt.py"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(given) + "\n" + check],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VERIFIED:") and "this payment of" in done.stdout
