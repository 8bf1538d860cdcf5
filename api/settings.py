"""Settings of the HTTP edge, on top of the ledger's (same KVIT_ prefix, same .env file)."""

from __future__ import annotations

from ledger.settings import Settings

DEFAULT_ACQUIRER_SECRET = "sandbox-acquirer-secret"


class ApiSettings(Settings):
    secret_key: str | None = None
    """Signs API tokens (KVIT_SECRET_KEY). In embedded mode, generated once in the data dir."""

    sandbox_acquirer: bool = True
    """Mount the built-in sandbox acquirer (KVIT_SANDBOX_ACQUIRER). Its checkout page approves
    any card operation, so a deployment that takes real money turns it off."""

    acquirer_secret: str = DEFAULT_ACQUIRER_SECRET
    """Shared secret of the acquirer's webhook signatures (KVIT_ACQUIRER_SECRET)."""

    smtp_url: str | None = None
    """Where card-payment notices go, e.g. smtp://127.0.0.1:1025 (KVIT_SMTP_URL)."""

    public_url: str = "http://127.0.0.1:8000"
    """The base URL that checkout links and the sandbox acquirer's webhook calls use."""

    max_body_bytes: int = 64 * 1024
    """Request bodies above this are refused with 413."""

    max_register_bytes: int = 64 * 1024 * 1024
    """A notice register posted to /v1/notices/batch may be this large (streamed to disk)."""

    read_wait_seconds: float = 2.0
    """How long a read waits for the read models to reach a requested position."""
