"""The embedded data directory holds the event store, read models and generated secrets: it is
created 0700 and its files 0600 at creation (never chmod-ed after, which leaves a window)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create the directory (and parents) if missing; the directory itself ends up 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create an empty file readable by its owner only, if it does not exist. SQLite then opens
    it as its database and gives its -wal and -shm files the same mode."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def write_new_secret(path: Path, text: str) -> bool:
    """Write `text` to a new 0600 file; False if the file exists already (two processes
    starting together keep the first one's secret)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        file.write(text)
    return True
