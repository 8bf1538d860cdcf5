"""Where commands print: results on stdout, messages and progress bars on stderr, so a
command's output can be piped while a person still sees how it goes."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one line stays one line in a log


def progress_bar(label: str) -> Progress:
    """A progress bar over log positions."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
