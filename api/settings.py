"""Settings of the HTTP edge, on top of the ledger's (same KVIT_ prefix, same .env file)."""

from __future__ import annotations

from ledger.settings import Settings

DEFAULT_ACQUIRER_SECRET = "sandbox-acquirer-secret"
"""Published in earlier versions; refused now (api/config_checks.py)."""
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class ApiSettings(Settings):
    secret_key: str | None = None
    """Signs API tokens (KVIT_SECRET_KEY). In embedded mode, generated once in the data dir."""

    sandbox_acquirer: bool | None = None
    """Mount the built-in sandbox acquirer (KVIT_SANDBOX_ACQUIRER). Its checkout page approves
    any card operation, so it is a development choice: on by default only in embedded (SQLite)
    mode; on PostgreSQL it is off unless set to true."""

    acquirer_secret: str | None = None
    """Shared secret of the acquirer's webhook signatures (KVIT_ACQUIRER_SECRET). In embedded
    mode, generated once in the data dir; required on PostgreSQL."""

    smtp_url: str | None = None
    """Where card-payment notices go, e.g. smtp://127.0.0.1:1025 (KVIT_SMTP_URL)."""

    public_url: str | None = None
    """The base URL that checkout links and the sandbox acquirer's webhook calls use; `kvit
    serve` sets it from --host/--port when unset."""

    max_body_bytes: int = 64 * 1024
    """Request bodies above this are refused with 413."""

    max_register_bytes: int = 64 * 1024 * 1024
    """A notice register posted to /v1/notices/batch may be this large (streamed to disk)."""

    request_receive_timeout_seconds: float = 10.0
    """A request's headers, and then its body, must each arrive within this many seconds; a
    slower one gets 408 `request_timeout` and its connection is closed
    (KVIT_REQUEST_RECEIVE_TIMEOUT_SECONDS)."""

    register_receive_timeout_seconds: float = 300.0
    """The body's bound for a notice register posted to /v1/notices/batch, which may be up to
    `max_register_bytes` (KVIT_REGISTER_RECEIVE_TIMEOUT_SECONDS)."""

    link_attempts_limit: int = 10
    """Probes of personal accounts a payer may make per window before every one is refused with
    429 (KVIT_LINK_ATTEMPTS_LIMIT): links and QR look-ups that do not prove possession with the
    bill's ИПД (unknown account, wrong ИПД, or a link that shows only what is due)."""

    link_attempts_account_limit: int = 20
    """The same probes against one account, from all payers together, per window
    (KVIT_LINK_ATTEMPTS_ACCOUNT_LIMIT): many identities cannot share out guessing its ИПД."""

    link_attempts_window_seconds: int = 3600

    @property
    def sandbox_enabled(self) -> bool:
        if self.sandbox_acquirer is not None:
            return self.sandbox_acquirer
        return not self.uses_postgres

    @property
    def base_url(self) -> str:
        return (self.public_url or DEFAULT_PUBLIC_URL).rstrip("/")
