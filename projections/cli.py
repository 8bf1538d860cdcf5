"""Command-line entry points of the read side, registered on the `kvit` CLI."""

from __future__ import annotations

import typer


def register(cli: typer.Typer) -> None:
    """Add the read side's commands (`kvit project`, `kvit projections ...`) to `cli`."""
