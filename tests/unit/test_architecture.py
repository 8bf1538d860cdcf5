"""The house's rule (docs/architecture.md), checked from the code's own imports.

Each top-level package may import only the packages listed for it; nothing imports `api`;
only `storage` imports the event store library's persistence modules or touches an
application's `.recorder`; there are no import cycles between modules; routes share code
through `api/deps.py` and other modules, never by importing each other, and they never read
`app.state` themselves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED: dict[str, set[str]] = {
    "storage": set(),
    "ledger": {"storage"},
    "audit": {"ledger", "storage"},
    "mail": {"ledger", "storage"},
    "projections": {"audit", "ledger", "storage"},
    "api": {"audit", "ledger", "mail", "projections", "storage"},
}
LONGEST_FUNCTION = 70


def modules() -> Iterator[tuple[str, Path]]:
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def imported(path: Path) -> Iterator[tuple[str, ast.stmt]]:
    """Every module this file imports, at any depth (imports inside functions count too)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node
            for alias in node.names:  # `from api import deps` imports the module api.deps
                yield f"{node.module}.{alias.name}", node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node


def under_type_checking(path: Path) -> set[int]:
    """Lines inside `if TYPE_CHECKING:` blocks: imports for the type checker only."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def test_each_package_imports_only_the_packages_below_it() -> None:
    wrong = []
    for name, path in modules():
        package = name.split(".")[0]
        for module, _ in imported(path):
            top = module.split(".")[0]
            if top in ALLOWED and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(sorted(set(wrong)))


# The event store library behind one door: its persistence modules and an application's
# `.recorder` (where the table layout, connections and NOTIFY channel live) are storage's.
LIBRARY_INTERNALS = ("eventsourcing.postgres", "eventsourcing.sqlite", "eventsourcing.popo")


def test_only_storage_reaches_the_event_store_library_internals() -> None:
    wrong = []
    for name, path in modules():
        if name.split(".")[0] == "storage":
            continue
        where = path.relative_to(ROOT)
        for module, node in imported(path):
            for internal in LIBRARY_INTERNALS:
                if module == internal or module.startswith(internal + "."):
                    wrong.append(f"{where}:{node.lineno} imports {internal}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "recorder":
                wrong.append(f"{where}:{node.lineno} touches {ast.unparse(node)}")
    assert not wrong, "\n".join(sorted(set(wrong)))


# Inside ledger/: the domain (aggregates and values) knows nothing of how commands run; the
# engine (units of work, idempotency, group commit, batches) runs any command and knows no
# context, and is the only layer that talks to `storage` (the event store's door); the contexts
# (payments, registry, notices, qr) are commands and handlers written against both; only the
# application and its bootstrap see everything.
LEDGER_CONTEXTS = ("payments", "registry", "notices", "qr")
LEDGER_SHARED = {"ledger.errors", "ledger.settings", "ledger.private_files"}
LEDGER_LAYERS: dict[str, tuple[str, ...]] = {
    "domain": ("ledger.domain", "ledger.errors"),
    "engine": ("ledger.domain", "ledger.engine", *sorted(LEDGER_SHARED), "storage"),
    **{
        context: (
            "ledger.domain",
            "ledger.engine",
            "ledger.errors",
            *(f"ledger.{other}" for other in LEDGER_CONTEXTS),
        )
        for context in LEDGER_CONTEXTS
    },
}


def test_ledger_layers_domain_then_engine_then_contexts() -> None:
    wrong = []
    for name, path in modules():
        parts = name.split(".")
        if parts[0] != "ledger" or len(parts) < 2 or parts[1] not in LEDGER_LAYERS:
            continue
        allowed = LEDGER_LAYERS[parts[1]]
        for module, _ in imported(path):
            if module.split(".")[0] not in ("ledger", "storage") or module in ("ledger",):
                continue
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_ledger_has_no_flat_modules_beside_its_packages() -> None:
    flat = {p.stem for p in (ROOT / "ledger").glob("*.py")} - {"__init__"}
    assert flat == {"application", "bootstrap", "errors", "private_files", "settings"}


def test_no_import_cycles_between_modules() -> None:
    known = dict(modules())
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        skip = under_type_checking(path)
        graph[name] = {
            module
            for module, node in imported(path)
            if module in known and module != name and node.lineno not in skip
        }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # A package's __init__ importing its own modules is how packages work, not a cycle.
    cycles = [c for c in cycles if not _through_own_init(c)]
    assert not cycles, "\n".join(cycles)


def _through_own_init(cycle: str) -> bool:
    names = cycle.split(" -> ")
    return any(b.startswith(a + ".") for a, b in pairwise(names))


def test_routes_neither_import_each_other_nor_read_app_state() -> None:
    wrong = []
    for path in sorted((ROOT / "api" / "routes").glob("*.py")):
        for module in {".".join(m.split(".")[:3]) for m, _ in imported(path)}:
            if module.startswith("api.routes."):
                wrong.append(f"{path.name} imports {module}")
        if "app.state" in path.read_text():
            wrong.append(f"{path.name} reads app.state")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_function_is_longer_than_the_house_allows(package: str) -> None:
    long = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert not long, "\n".join(long)
