"""From settings to the `eventsourcing` environment: in memory, SQLite file, or PostgreSQL.

The schema is created only by an explicit migrate step (and by the embedded SQLite server),
never by racing workers: `CREATE_TABLE` is off unless `create_tables=True`.
"""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger.private_files import private_file
from ledger.settings import Settings

SQLITE_FILE = "kvit.sqlite3"


def event_store_env(settings: Settings, *, create_tables: bool = False) -> dict[str, str]:
    env = {"CREATE_TABLE": "y" if create_tables else "n"}
    if settings.database_url:
        env.update(postgres_env(settings))
    else:
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(private_file(settings.data_dir / SQLITE_FILE)),
            SQLITE_LOCK_TIMEOUT="10",
            APPLICATION_RECORDER_TOPIC="storage.event_store:CheckedSQLiteRecorder",
        )
    return env


def in_memory_env() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


# What the library's own settings carry; every other libpq option goes in POSTGRES_CONNINFO.
LIBRARY_KEYS = ("dbname", "host", "port", "user", "password")


def postgres_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url
    # libpq's own reading of the URL: several hosts (`h1:p1,h2:p2` or `?host=a,b&port=p1,p2`)
    # and options such as target_session_attrs reach the event store as they reach every
    # other connection, never a single host taken from the first part.
    options = conninfo_to_dict(settings.database_url)
    env = {
        "PERSISTENCE_MODULE": "storage.cluster_factory:ClusterPostgresFactory",
        # Saves also check the versions a command only read (storage/event_store.py).
        "APPLICATION_RECORDER_TOPIC": "storage.event_store:CheckedPostgresRecorder",
        "POSTGRES_DBNAME": str(options.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(options.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(options.get("port") or 5432),
        "POSTGRES_USER": str(options.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(options.get("password") or ""),
        "POSTGRES_CONNINFO": make_conninfo(
            "", **{k: v for k, v in options.items() if k not in LIBRARY_KEYS}
        ),
        "SYNC_STANDBY_REQUIRED": "y" if settings.require_sync_standby else "n",
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.database_pool_max_overflow),
        # Low timeouts: the recorder retries OperationalError 10 times, so a 30 s lock timeout
        # would block a save for five minutes.
        "POSTGRES_LOCK_TIMEOUT": str(settings.database_lock_timeout_seconds),
        "POSTGRES_CONNECT_TIMEOUT": str(settings.database_connect_timeout_seconds),
        "POSTGRES_POOL_TIMEOUT": str(settings.database_connect_timeout_seconds),
    }
    if settings.database_schema:
        env["POSTGRES_SCHEMA"] = settings.database_schema
    return env
