"""`kvit audit verify --from URL`: a log checked from the tiles a live deployment serves
(audit/remote.py) — the tree recomputed from the entry bundles, every hash tile compared with
it, the checkpoint opened with the log's key, and the tree checked against a checkpoint the
auditor kept. The app serves over its ASGI transport here; test_cli.py runs `kvit serve`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from audit import note
from audit.remote import Fetch, MissingError, RemoteReport, verify_remote
from audit.tiles import WIDTH
from ledger.bootstrap import build_ledger, migrate
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.fixtures import setup_world
from tests.integration.log_fixtures import pay_signed
from tests.integration.test_cli import SECRET, clean_env, run
from tests.processes import kvit_serve

PREFIX = "/v1/audit/log/"


@dataclass
class Served:
    fetch: Fetch
    key: note.Verifier
    size: int
    notes: list[tuple[int, str]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """An embedded deployment with a little over 256 events, under two signed checkpoints (or
    more: the follower also signs every 200 events)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS", "200")
        patch.setenv("KVIT_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "0.2")
        settings = api_settings(tmp_path_factory.mktemp("remote") / "var")
        migrate(settings)
        ledger = build_ledger(settings)
        app = create_app(settings, ledger=ledger)
        auditor = bearer(Role.AUDITOR)
        with TestClient(app, base_url=PUBLIC_URL) as client:
            world = setup_world(ledger, wallet_balance=100_000_000)
            store = app.state.services.started().audit_store
            head, _ = pay_signed(ledger, store, world, 70, amount=10_000)

            def fetch(path: str) -> bytes:
                got = client.get(PREFIX + path, headers=auditor)
                if got.status_code == 404:
                    raise MissingError(path)
                assert got.status_code == 200, got.text
                return got.content

            key = note.Verifier.parse(client.get("/v1/audit/key").text)
            yield Served(fetch, key, head, store.notes())
        ledger.close()


def changed(fetch: Fetch, path_start: str, edit: Callable[[bytes], bytes]) -> Fetch:
    """`fetch`, with the bodies of some paths changed on the way (a lying mirror)."""

    def lying(path: str) -> bytes:
        body = fetch(path)
        return edit(body) if path.startswith(path_start) else body

    return lying


def kinds(report: RemoteReport) -> list[tuple[str, int]]:
    return [(f.kind, f.leaf) for f in report.findings]


def test_a_served_log_checks_out_from_its_tiles(served: Served) -> None:
    report, checkpoint = verify_remote(served.fetch, served.key)
    assert report.clean, report.findings
    assert checkpoint is not None and report.size == checkpoint.size >= served.size > WIDTH
    assert report.bundles == 2  # one full bundle of entries and one partial
    assert report.tiles == 3  # two tiles of leaves, and level 1's partial tile of one hash


def test_a_changed_entry_in_a_bundle_is_caught_at_its_leaf(served: Served) -> None:
    def one_byte(bundle: bytes) -> bytes:  # a digit of the 11th entry's state
        at = bundle.index(b'"timestamp"', 5000) + 60
        return bundle[:at] + bytes([bundle[at] ^ 1]) + bundle[at + 1 :]

    lying = changed(served.fetch, "tile/entries/000", one_byte)
    report, _ = verify_remote(lying, served.key)
    wrong = kinds(report)
    assert wrong[0][0] == "tile_mismatch" and 0 < wrong[0][1] < WIDTH
    assert wrong[-1] == ("root_mismatch", 0)


def test_a_changed_hash_tile_is_caught_at_its_leaf(served: Served) -> None:
    lying = changed(served.fetch, "tile/0/000", lambda t: t[:64] + bytes(32) + t[96:])
    report, _ = verify_remote(lying, served.key)
    assert kinds(report) == [("tile_mismatch", 2)]  # the entries still give the signed root


def test_a_bundle_with_an_entry_short_is_refused(served: Served) -> None:
    lying = changed(served.fetch, "tile/entries/001", lambda b: b[: b.rindex(b"kvit.event.v1") - 2])
    report, _ = verify_remote(lying, served.key)
    assert kinds(report) == [("bad_bundle", WIDTH)]


def test_a_checkpoint_not_signed_by_the_given_key_is_refused(served: Served) -> None:
    other = note.Verifier(
        served.key.name, note.ED25519, note.raw_public(Ed25519PrivateKey.generate())
    )
    report, checkpoint = verify_remote(served.fetch, other)
    assert checkpoint is None and [f.kind for f in report.findings] == ["bad_signature"]


def test_the_log_extends_the_checkpoint_the_auditor_kept(served: Served) -> None:
    earlier = note.parse_checkpoint(note.parse_note(served.notes[0][1]).body)
    assert earlier.size < served.size
    report, _ = verify_remote(served.fetch, served.key, kept=earlier)
    assert report.clean and report.kept == earlier.size


def test_a_fork_or_a_rollback_from_the_kept_checkpoint_is_caught(served: Served) -> None:
    earlier = note.parse_checkpoint(note.parse_note(served.notes[0][1]).body)
    forked = note.Checkpoint(earlier.origin, earlier.size, bytes(32))
    assert ("inconsistent", 0) in kinds(verify_remote(served.fetch, served.key, kept=forked)[0])
    longer = note.Checkpoint(earlier.origin, served.size + 10, earlier.root)
    report, _ = verify_remote(served.fetch, served.key, kept=longer)
    assert [f.kind for f in report.findings] == ["inconsistent"]


def test_a_missing_tile_is_a_finding(served: Served) -> None:
    def gone(path: str) -> bytes:
        if path.startswith("tile/0/001"):
            raise MissingError(path)
        return served.fetch(path)

    report, _ = verify_remote(gone, served.key)
    assert [f.kind for f in report.findings] == ["missing"]


def test_kvit_verify_from_a_running_kvit_serve_and_after_tampering(tmp_path: Path) -> None:
    """The real executables: `kvit demo`, `kvit serve`, and `kvit audit verify --from` with an
    auditor's token and the key printed by `kvit audit public-key`; then one byte of a stored
    event changed under the running server."""
    env = clean_env(tmp_path, KVIT_LOG_ORIGIN="kvit.test/log", KVIT_SECRET_KEY=SECRET)
    assert run(env, "demo", "--no-cabinet", timeout=180).returncode == 0
    with kvit_serve(env) as base:
        token = run(env, "token", "--role", "auditor").stdout.strip()
        log_key = run(env, "audit", "public-key").stdout.splitlines()[1]
        kept = tmp_path / "kept-checkpoint"
        check = ["audit", "verify", "--from", f"{base}/v1/audit/log/", "--log-key", log_key]
        done = run(env, *check, "--token", token, "--state", str(kept))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "OK: the tree recomputed from the entries has the signed root" in done.stdout
        assert kept.read_text().startswith("kvit.test/log\n")

        public = run(env, "audit", "verify", "--from", f"{base}/log/", "--log-key", log_key)
        assert public.returncode == 2 and "/v1/audit/log/" in public.stderr

        _change_one_byte(tmp_path / "var" / "kvit.sqlite3", position=120)
        done = run(env, *check, "--token", token, "--state", str(kept))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "TAMPERED: first difference at leaf 119 (tile_mismatch)" in done.stdout
        assert "kept at that size" in done.stdout  # the kept checkpoint is not the tree's


def _change_one_byte(database: Path, position: int) -> None:
    with sqlite3.connect(database) as connection:
        (state,) = connection.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", [position]
        ).fetchone()
        at = state.index(b"+00:00") - 1  # the last digit of the microseconds
        digit = b"0" if state[at : at + 1] != b"0" else b"1"
        connection.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            [state[:at] + digit + state[at + 1 :], position],
        )
