"""Settings operators depend on, from the environment (or a `.env` file). Names are stable."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

POSTGRES_SCHEMES = ("postgresql", "postgres")


def postgres_url(value: str | None, variable: str) -> str | None:
    """`value` if unset or a postgresql:// URL. libpq would read anything else as `key=value`
    pairs and fail naming neither the setting nor the fix; the password is never repeated."""
    if not value:
        return value
    scheme, separator, _ = value.partition("://")
    if not separator or scheme.lower() not in POSTGRES_SCHEMES:
        got = f"a {scheme}:// URL" if separator else "no URL scheme"
        raise ValueError(
            f"{variable} must be a postgresql:// URL"
            f" (postgresql://user:password@host:5432/database), got {got}"
        )
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KVIT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    """Embedded mode keeps its SQLite database (and later its keys) here."""

    database_url: str | None = None
    """A postgresql:// URL; when set, PostgreSQL is the store."""

    database_schema: str | None = None
    """PostgreSQL schema for the tables (tests use throwaway schemas)."""

    database_connections: int = 30
    """The whole deployment's PostgreSQL connection budget; the long-running commands split it
    into their pool sizes (ledger/engine/connections.py)."""

    database_pool_size: int = 10
    """The event store's pool (the commands set it from the budget)."""
    database_pool_max_overflow: int = 2
    database_audit_pool_size: int = 4
    """The audit chain's read pool."""
    database_lock_timeout_seconds: int = 5
    database_connect_timeout_seconds: int = 5

    require_sync_standby: bool = False
    """Acknowledge a write only once a synchronous standby has it; while none is attached,
    writes are refused with 503 (docs/operating.md, "On a replicated cluster")."""

    read_replica_url: str | None = None
    """A postgresql:// URL of a standby (`target_session_attrs=prefer-standby`) for the
    auditors' heavy reads of the log (api/replica.py); unset: they read the primary."""

    group_commit: bool = True
    """Let concurrent commands share one transaction (see ledger/engine/group_commit.py)."""

    writer_socket: Path | None = None
    """Set by `kvit serve` for its workers: the writer process's socket (ledger/engine/
    writer.py); their commands run there. Unset, a process writes itself."""

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        return postgres_url(value, "KVIT_DATABASE_URL")

    @field_validator("read_replica_url")
    @classmethod
    def _replica_url(cls, value: str | None) -> str | None:
        return postgres_url(value, "KVIT_READ_REPLICA_URL")

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)
