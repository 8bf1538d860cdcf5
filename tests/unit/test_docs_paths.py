"""The docs name files that exist: a moved module must take its mentions with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
PACKAGES = "api|ledger|projections|storage|audit|mail|tests|bench|docs"
# A path into the house: a package folder, then path characters; a trailing dot or colon is
# the sentence's, not the file's; `*` is a glob (`bench/results/http-*.json`).
PATH = re.compile(rf"(?<![\w./-])((?:{PACKAGES})/[\w./*-]*[\w/*])")


def named_paths(text: str) -> set[str]:
    return {match.rstrip("/") for match in PATH.findall(text)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    missing = sorted(p for p in named_paths(doc.read_text()) if not any(ROOT.glob(p)))
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"
