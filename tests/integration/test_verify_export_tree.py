"""A real log exported (SQLite and PostgreSQL) and checked by docs/verify_export.py alone: a
copy of the script, run by a Python that has no Kvit (`-I`, empty environment), recomputes the
Merkle tree, checks every signed tree checkpoint and the consistency proofs, proves an entry's
inclusion; and each change to the export is found at its position."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle
from audit.export import export
from audit.note import ED25519, Verifier, raw_public
from audit.service import checkpoint_now, log_verifier
from audit.store import AuditStore
from audit.tiles import perfect_from
from ledger.bootstrap import build_ledger
from tests.fixtures import setup_world
from tests.integration.log_fixtures import audit_settings, pay

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_export.py"
PYTHON = getattr(sys, "_base_executable", sys.executable)
"""The interpreter without this project's virtualenv: Kvit cannot be imported there."""
KEY = "5a" * 32


@dataclass
class Exported:
    directory: Path
    script: Path
    store: AuditStore
    log_key: str
    sizes: list[int]

    def run(self, *options: str) -> subprocess.CompletedProcess[str]:
        command = [PYTHON, "-I", str(self.script), str(self.directory), *options]
        return subprocess.run(
            command, capture_output=True, text=True, env={}, cwd=self.script.parent, timeout=120
        )

    def lines(self) -> list[dict[str, Any]]:
        text = (self.directory / "events.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def write_lines(self, lines: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        (self.directory / "events.jsonl").write_text(text, encoding="utf-8")

    def notes(self) -> list[dict[str, Any]]:
        text = (self.directory / "tree-checkpoints.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    def write_notes(self, notes: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(note, ensure_ascii=False) + "\n" for note in notes)
        (self.directory / "tree-checkpoints.jsonl").write_text(text, encoding="utf-8")


def findings(done: subprocess.CompletedProcess[str]) -> list[tuple[str, int]]:
    """(kind, position) of each `FINDING at position P: kind: …` line."""
    found = []
    for line in done.stdout.splitlines():
        if line.startswith("FINDING at position "):
            position, kind = line.removeprefix("FINDING at position ").split(": ")[:2]
            found.append((kind, int(position)))
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def exported(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Exported]:
    """A log with three signed tree checkpoints, the last at its head, exported."""
    settings = audit_settings(request, KEY)
    ledger, store = build_ledger(settings), AuditStore.open(settings)
    world = setup_world(ledger, wallet_balance=1_000_000)
    for i in range(24):
        pay(ledger, world, f"p{i}", 100 + i)
        if i % 8 == 7:
            checkpoint_now(ledger, store, settings)
    log_key = log_verifier(settings).text()
    export(ledger, store, tmp_path / "export", log_key=log_key)
    alone = tmp_path / "alone"  # the script and nothing else
    alone.mkdir()
    shutil.copy(SCRIPT, alone / "verify_export.py")
    sizes = [size for size, _ in store.notes()]
    yield Exported(tmp_path / "export", alone / "verify_export.py", store, log_key, sizes)
    store.close()
    ledger.close()


def test_the_checker_runs_where_kvit_cannot_be_imported() -> None:
    done = subprocess.run([PYTHON, "-I", "-c", "import audit"], capture_output=True, env={})
    assert done.returncode != 0 and b"ModuleNotFoundError" in done.stderr


def test_a_real_export_verifies_with_its_tree_checkpoints_and_proofs(exported: Exported) -> None:
    assert len(exported.sizes) == 3
    manifest = json.loads((exported.directory / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"]) == ("kvit.export", 2)
    assert manifest["log_key"] == exported.log_key
    assert manifest["tree_size"] == exported.sizes[-1] == len(exported.lines())

    done = exported.run("--log-key", exported.log_key)
    assert done.returncode == 0, done.stdout + done.stderr
    size = exported.sizes[-1]
    root = base64.b64encode(merkle.root(size, perfect_from(exported.store))).decode()
    assert f"tree: {size} leaves, root {root}\n" in done.stdout
    assert "tree checkpoints: 3 of 3 match the tree; 2 consistency proof(s) verified" in done.stdout
    assert "pass --log-key" not in done.stdout  # pinned
    assert done.stdout.rstrip().endswith("OK")

    as_json = json.loads(exported.run("--json").stdout)
    assert as_json["tree"]["root"] == root and as_json["findings"] == []
    assert as_json["public_key_pinned"] is False


def test_an_inclusion_proof_is_printed_and_is_the_one_the_log_serves(exported: Exported) -> None:
    index, size = 30, exported.sizes[1]
    done = exported.run("--inclusion", str(index), "--size", str(size))
    assert done.returncode == 0, done.stdout + done.stderr
    expected = merkle.inclusion_proof(index, size, perfect_from(exported.store))
    printed = [line.split(": ")[1] for line in done.stdout.splitlines() if "  proof " in line]
    assert printed == [base64.b64encode(h).decode() for h in expected]
    position = exported.lines()[index]["position"]
    assert f"inclusion: entry {index} (position {position}," in done.stdout
    assert f"INCLUDED: entry {index} is in the size-{size} tree" in done.stdout

    latest = exported.run("--inclusion", str(index), "--json")
    assert json.loads(latest.stdout)["inclusion"]["size"] == exported.sizes[-1]


def test_a_changed_entry_is_found_at_its_position(exported: Exported) -> None:
    lines = exported.lines()
    target = lines[20]
    state = bytearray(base64.b64decode(target["state"]))
    at = state.index(b"+00:00") - 1  # the last digit of the microseconds
    state[at] = ord("0") if state[at] != ord("0") else ord("1")
    target["state"] = base64.b64encode(bytes(state)).decode()
    exported.write_lines(lines)

    done = exported.run("--log-key", exported.log_key, "--inclusion", "40")
    assert done.returncode == 1
    position = target["position"]
    assert findings(done)[:2] == [("modified", position), ("tree_mismatch", position)]
    assert ("not_included", lines[40]["position"]) in findings(done)  # its path crosses it
    assert "INCLUDED" not in done.stdout and done.stdout.rstrip().endswith("FAILED")


def test_dropping_the_last_entry_is_found_where_it_was(exported: Exported) -> None:
    lines = exported.lines()
    exported.write_lines(lines[:-1])
    done = exported.run("--log-key", exported.log_key)
    assert done.returncode == 1
    last = lines[-1]["position"]
    assert findings(done) and {kind for kind, _ in findings(done)} == {"truncated"}
    assert {position for _, position in findings(done)} == {last}


def test_an_altered_checkpoint_root_is_found_at_its_size(exported: Exported) -> None:
    notes = exported.notes()
    middle = notes[1]
    body, _, signatures = middle["note"].partition("\n\n")
    origin, size, _ = body.split("\n")
    forged_root = base64.b64encode(b"\x07" * 32).decode()
    middle["note"] = f"{origin}\n{size}\n{forged_root}\n\n{signatures}"
    exported.write_notes(notes)
    done = exported.run("--log-key", exported.log_key)
    assert done.returncode == 1
    position = exported.lines()[int(size) - 1]["position"]
    assert findings(done) == [("bad_signature", position)]
    assert f"FINDING at position {position}: bad_signature: tree checkpoint of size {size}" in (
        done.stdout
    )


def test_an_altered_consistency_proof_is_found_at_the_size_it_leads_to(
    exported: Exported,
) -> None:
    notes = exported.notes()
    proof = notes[2]["consistency"]["proof"]
    proof[0] = base64.b64encode(b"\x01" * 32).decode()
    exported.write_notes(notes)
    done = exported.run("--log-key", exported.log_key)
    position = exported.lines()[exported.sizes[2] - 1]["position"]
    assert done.returncode == 1 and findings(done) == [("inconsistent", position)]


def test_checkpoints_under_another_key_are_each_found(exported: Exported) -> None:
    stranger = Verifier(
        exported.log_key.split("+")[0], ED25519, raw_public(Ed25519PrivateKey.generate())
    )
    done = exported.run("--log-key", stranger.text())
    assert done.returncode == 1
    positions = [exported.lines()[size - 1]["position"] for size in exported.sizes]
    tree = [position for kind, position in findings(done) if kind == "bad_signature"]
    assert set(positions) <= set(tree)  # each tree checkpoint, and each chain one too
    assert "tree checkpoints: 0 of 3 match the tree" in done.stdout


def test_bad_usage_is_one_line_and_exit_2(exported: Exported) -> None:
    beyond = exported.run("--inclusion", str(exported.sizes[-1]))
    not_signed = exported.run("--inclusion", "1", "--size", "7")
    bad_key = exported.run("--log-key", "nonsense")
    manifest = exported.directory / "manifest.json"
    manifest.write_text(json.dumps({"format": "kvit.export", "version": 99}))
    newer = exported.run()
    manifest.write_text("{not json")
    garbled = exported.run()
    manifest.unlink()
    with (exported.directory / "events.jsonl").open("a") as events:
        events.write('{"position": 1000, "id": "not a uuid"}\n')
    damaged = exported.run()
    for done in (beyond, not_signed, bad_key, newer, garbled, damaged):
        assert done.returncode == 2 and done.stdout == "", done.stdout
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_version_1_export_still_checks(exported: Exported) -> None:
    for name in ("manifest.json", "tree-checkpoints.jsonl", "checkpoint"):
        (exported.directory / name).unlink()
    done = exported.run("--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["format_version"] == 1 and result["tree"]["signed_checkpoints"] == 0
    assert result["tree"]["size"] == len(exported.lines())
