"""Where the read models live and how they are run, from `KVIT_READ_*` variables.

By default the read models sit beside the events: in the same PostgreSQL database and schema
(tables prefixed `rm_`), or in embedded mode in `kvit-read.sqlite3` next to the event store's
file. `KVIT_READ_DATABASE_URL` / `KVIT_READ_DATABASE_SCHEMA` move them to another database.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.private_files import private_file
from ledger.settings import Settings, postgres_url
from storage.sql import Store

SQLITE_FILE = "kvit-read.sqlite3"


class ReadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KVIT_READ_", env_file=".env", extra="ignore")

    database_url: str | None = None
    """A postgresql:// URL for the read models; default: the event store's database."""

    database_schema: str | None = None
    """Schema of the read-model tables; default: the event store's schema (or `public`)."""

    sqlite_path: Path | None = None
    """Embedded mode: the read models' SQLite file; default `<data_dir>/kvit-read.sqlite3`."""

    batch_size: int = 10000
    """Log positions applied per view transaction while catching up (live tailing uses
    fewer). Matching goes over each touched account's history once per transaction, so a
    backlog (a register import) costs about half the CPU at 10,000 as at 2,000."""

    rebuild_batch_size: int = 10000

    rebuild_workers: int = 3
    """Processes that replay groups of read models in parallel (PostgreSQL only)."""

    lagging_linger_seconds: float = Field(default=0.1, ge=0, le=10)
    """`kvit project` applies the models no write's answer waits for (matching, the trial
    balance: `models.LAGGING`) at most this often, in batches of all the commits of that
    while, and the rest at every commit; 0 applies them all together at every commit."""

    wait_timeout_seconds: float = 2.0
    """Read-your-writes: how long a read waits for the projections before giving up."""

    pool_size: int = 8
    """Connections for readers (PostgreSQL)."""

    follower_silence_seconds: float = 10.0
    """A follower (`kvit project`, `kvit audit follow`) silent this long is down (`/readyz`)."""

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        return postgres_url(value, "KVIT_READ_DATABASE_URL")


def read_database(settings: Settings, read: ReadSettings) -> tuple[str, str, str | None]:
    """('postgres', url, schema) or ('sqlite', path, None) for the read models."""
    if read.database_url:
        return "postgres", read.database_url, read.database_schema or "public"
    if settings.database_url:
        schema = read.database_schema or settings.database_schema or "public"
        return "postgres", settings.database_url, schema
    path = read.sqlite_path or settings.data_dir / SQLITE_FILE
    return "sqlite", str(private_file(path)), None


def open_store(settings: Settings, read: ReadSettings) -> Store:
    dialect, target, schema = read_database(settings, read)
    return Store(dialect, target, schema, pool_size=read.pool_size)
