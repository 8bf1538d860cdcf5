"""A stored event whose fields the entry format cannot hold (a negative version, a topic over
65,535 bytes), put in the log by someone with database access: `verify` reports it at its
position as `malformed` and goes on, the export carries it, the stdlib checker agrees, and no
tool shows a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from audit.chain import catch_up
from audit.encoding import EntryError
from audit.export import export
from storage.log import events_table
from tests.integration.test_audit_tamper import ROOT, Log, agree, checker, log
from tests.integration.test_cli import KVIT, clean_env

__all__ = ["log"]  # the fixture: a chained, checkpointed log on each backend

LONG_TOPIC = "kvit.wallet.credited" + "x" * 70_000


def insert_event(log: Log, *, version: int, topic: str) -> int:
    """A new row after the log's head, as an attacker (or a bug) with DB access writes it."""
    table = events_table(log.ledger)
    state = log.state(log.head())
    log.sql(
        f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
        " VALUES (%s, %s, %s, %s)",
        ["00000000-0000-0000-0000-00000000002a", version, topic, state],
    )
    return log.head()


def test_a_negative_version_of_a_chained_event_is_found_at_its_position(log: Log) -> None:
    table, column = events_table(log.ledger), log.id_column
    log.sql(f"UPDATE {table} SET originator_version = -1 WHERE {column} = 20")
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("malformed", 20)
    assert "version -1" in report.first.detail
    assert report.events == log.head()
    agree(log, report)
    first = log.check_export("again")["findings"][0]
    assert "originator version -1 is not an unsigned 64-bit number" in first["detail"]


def test_a_topic_too_long_for_an_entry_is_found_at_its_position(log: Log) -> None:
    table, column = events_table(log.ledger), log.id_column
    log.sql(f"UPDATE {table} SET topic = %s WHERE {column} = 14", [LONG_TOPIC])
    report = log.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("malformed", 14)
    assert "70,020 bytes" in report.first.detail
    agree(log, report)


def test_an_unencodable_event_after_the_chain_head_is_a_finding_not_a_crash(log: Log) -> None:
    position = insert_event(log, version=-5, topic=LONG_TOPIC)
    report = log.verify()
    assert [(f.kind, f.position) for f in report.findings] == [("malformed", position)]
    agree(log, report)
    with pytest.raises(EntryError, match=f"position {position} cannot be chained"):
        catch_up(log.ledger, log.store)


def test_the_export_carries_the_event_as_stored(log: Log) -> None:
    position = insert_event(log, version=-1, topic=LONG_TOPIC)
    export(log.ledger, log.store, log.tmp / "out")
    lines = (log.tmp / "out/events.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    assert (last["position"], last["version"], last["topic"]) == (position, -1, LONG_TOPIC)


def test_the_checker_names_the_line_and_position_of_an_unreadable_line(log: Log) -> None:
    export(log.ledger, log.store, log.tmp / "out")
    events = log.tmp / "out/events.jsonl"
    lines = events.read_text().splitlines()
    broken = json.loads(lines[4])
    broken["state"] = "not base64!"
    lines[4] = json.dumps(broken)
    events.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        ["python3", str(ROOT / "docs/verify_export.py"), str(log.tmp / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"line 5 (position {broken['position']}): unreadable" in done.stderr
    with pytest.raises(checker.UsageError, match="line 5"):
        checker.check(log.tmp / "out", log.public_key)


@pytest.mark.parametrize("log", ["postgres"], indirect=True)
def test_the_cli_reports_the_finding_without_a_traceback(log: Log, tmp_path: Path) -> None:
    table, column = events_table(log.ledger), log.id_column
    log.sql(f"UPDATE {table} SET originator_version = -1 WHERE {column} = 20")
    env = clean_env(
        tmp_path,
        KVIT_DATABASE_URL=str(log.settings.database_url),
        KVIT_DATABASE_SCHEMA=str(log.settings.database_schema),
        KVIT_AUDIT_SIGNING_KEY=str(log.settings.audit_signing_key),
    )
    done = subprocess.run(
        [KVIT, "audit", "verify", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert (findings[0]["kind"], findings[0]["position"]) == ("malformed", 20)
