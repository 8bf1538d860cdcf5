"""The `eventsourcing` library's internals Kvit relies on, pinned in one place.

Kvit saves through the library's private hooks (`Application._record`, the PostgreSQL
recorder's table lock and NOTIFY, the SQLite recorder's insert) to keep the write path to one
round trip, and all of that lives in `storage/event_store.py`. An upgrade that renames or
reshapes any of it must fail here, by name, not somewhere in a save under load.
"""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from storage import event_store

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("storage", "ledger", "audit", "mail", "projections", "api")
DOOR = Path("storage/event_store.py")
SUPPORTED = "9.5."

# Every private method of the library we call or override, with the parameters we rely on
# ("**" for keyword arguments passed through, such as `expected_versions`).
PINNED_METHODS: dict[tuple[type[Any], str], str] = {
    (Application, "_record"): "self, processing_event",
    (Application, "_notify"): "self, recordings",
    (PostgresApplicationRecorder, "_lock_table"): "self, curs",
    (PostgresApplicationRecorder, "_notify_channel"): "self, curs",
    (SQLiteApplicationRecorder, "_insert_events"): "self, c, stored_events, **",
}
# Private attributes we read or set.
PINNED_ATTRIBUTES = {"_pending_events"}
# Public methods whose shape the private ones above depend on.
RELIED_ON: dict[tuple[type[Any], str], str] = {
    (Application, "notify"): "self, new_events",
    (EventStore, "put"): "self, domain_events, **",
    (PostgresApplicationRecorder, "insert_events"): "self, stored_events, **",
    (SQLiteApplicationRecorder, "insert_events"): "self, stored_events, **",
}


def parameters(function: Any) -> str:
    shown = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            shown.append("**")
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            shown.append("*")
        else:
            shown.append(parameter.name)
    return ", ".join(shown)


def test_the_installed_library_is_the_version_we_support() -> None:
    assert version("eventsourcing").startswith(SUPPORTED), (
        f"eventsourcing {version('eventsourcing')} is installed; Kvit supports {SUPPORTED}x."
        " Check every name in this file against the new version before widening the range."
    )


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    [(owner, name, shape) for (owner, name), shape in {**PINNED_METHODS, **RELIED_ON}.items()],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_a_library_method_we_use_keeps_its_signature(
    owner: type[Any], name: str, expected: str
) -> None:
    function = getattr(owner, name, None)
    assert callable(function), f"{owner.__name__}.{name} is gone"
    assert parameters(function) == expected


def test_an_aggregates_pending_events_are_the_list_we_restore() -> None:
    aggregate = Aggregate()
    assert aggregate._pending_events is aggregate.pending_events
    kept = list(aggregate.pending_events)
    event_store.set_pending_events(aggregate, [])
    assert aggregate.pending_events == []
    event_store.set_pending_events(aggregate, kept)
    assert aggregate.pending_events == kept


def test_a_processing_event_carries_events_and_save_arguments() -> None:
    processing: ProcessingEvent[Any] = ProcessingEvent()
    assert processing.events == [] and processing.saved_kwargs == {}


def _library_private_names() -> set[str]:
    """The private names of the library classes Kvit builds on (methods and instance state)."""
    owners = (
        Application,
        ProcessingEvent,
        Aggregate,
        EventStore,
        PostgresApplicationRecorder,
        SQLiteApplicationRecorder,
        POPOApplicationRecorder,
    )
    names = {n for owner in owners for n in dir(owner)}
    application = Application[Any]({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    names |= set(vars(Aggregate())) | set(vars(application)) | set(vars(application.recorder))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _uses(private: set[str]) -> dict[str, set[str]]:
    """Where our packages touch (read, set, call or override) one of these names."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute):
                    name = node.attr
                elif isinstance(node, ast.FunctionDef):
                    name = node.name
                else:
                    continue
                if name in private:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(name, set()).add(where)
    return found


def test_the_librarys_private_names_are_used_behind_one_door_and_all_pinned() -> None:
    used = _uses(_library_private_names())
    outside = sorted(
        f"{where} uses {name}"
        for name, places in used.items()
        for where in places
        if not where.startswith(f"{DOOR}:")
    )
    assert not outside, "only storage/event_store.py may use the library's private names:\n" + (
        "\n".join(outside)
    )
    pinned = {name for _, name in PINNED_METHODS} | PINNED_ATTRIBUTES
    assert set(used) == pinned, "pin every private name storage/event_store.py uses, and no more"
