"""One clear line for whatever stops a `kvit` command; the traceback only with --debug.

The event store's pool reports a wrong KVIT_DATABASE_URL as "couldn't get a connection after
5.00 sec" and hides why, so a failure to reach PostgreSQL is explained by connecting once more
directly, which gives the server's own reason (e.g. `database "x" does not exist`).
"""

from __future__ import annotations

import json
import os

import psycopg
import psycopg_pool
from eventsourcing import persistence as es_persistence
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from api.config_checks import ConfigurationError
from ledger.settings import Settings

CONNECT_FAULTS = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
)


def postgres_cause(error: BaseException) -> str:
    """The server's reason from a psycopg connection error, without libpq's preamble."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = " ".join(lines) if lines else type(error).__name__
    if "failed:" in text:  # 'connection to server at "h", port p failed: FATAL:  <reason>'
        text = text.rsplit("failed:", 1)[1]
    return " ".join(text.replace("FATAL:", "").split())


def probe_database(url: str | None) -> str | None:
    """Why PostgreSQL at `url` refuses a connection, or None if it accepts one."""
    if not url:
        return None
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as error:
        return postgres_cause(error)
    return None


def describe(error: BaseException) -> str:
    """One line saying what went wrong and, where it helps, what to do."""
    if isinstance(error, CONNECT_FAULTS):
        url = os.environ.get("KVIT_DATABASE_URL") or _dotenv_url()
        cause = probe_database(url) or (
            postgres_cause(error) if isinstance(error, psycopg.Error) else str(error)
        )
        return f"cannot use PostgreSQL at {where(url)} (KVIT_DATABASE_URL): {cause}"
    if isinstance(error, ValidationError):
        return setting_error(error)
    if isinstance(error, FileNotFoundError):
        return f"no such file or directory: {error.filename or error}"
    if isinstance(error, FileExistsError):
        return f"already exists: {error.filename or error}"
    if isinstance(error, PermissionError):
        return f"permission denied: {error.filename or error}"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error}"
    if isinstance(error, ConfigurationError | ValueError | RuntimeError | KeyError | OSError):
        text = str(error).strip().splitlines()
        return text[0] if text else type(error).__name__
    return f"{type(error).__name__}: {error}"


def setting_error(error: ValidationError) -> str:
    """The first setting that does not parse, by name, without its value (it may be secret).
    Our own checks' messages name the environment variable themselves."""
    first = error.errors(include_input=False, include_url=False)[0]
    message = str(first["msg"])
    if first["type"] == "value_error":
        return message.removeprefix("Value error, ")
    field = ".".join(str(part) for part in first["loc"])
    return f"setting {field} ({error.title}): {message}"


def where(url: str | None) -> str:
    """host:port/database of a URL (every host of a cluster's), without its user or password."""
    if not url:
        return "?"
    try:
        options = conninfo_to_dict(url)
    except psycopg.Error:
        return "?"
    hosts = str(options.get("host") or "127.0.0.1").split(",")
    ports = str(options.get("port") or "5432").split(",")
    ports += ports[-1:] * (len(hosts) - len(ports))  # libpq: one port serves every host
    pairs = ",".join(f"{host}:{port}" for host, port in zip(hosts, ports, strict=False))
    return f"{pairs}/{options.get('dbname') or ''}"


def _dotenv_url() -> str | None:
    try:
        return Settings().database_url
    except Exception:  # a settings file that does not parse has its own error to show
        return None
