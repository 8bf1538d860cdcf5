"""Settings of the HTTP edge, on top of the ledger's (same KVIT_ prefix, same .env file)."""

from __future__ import annotations

from typing import Literal

from ledger.settings import Settings

TBANK_API_URL = "https://securepay.tinkoff.ru/v2"

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

    acquirer: Literal["tbank", "sandbox", "none"] | None = None
    """Who takes card payments and top-ups (KVIT_ACQUIRER): T-Bank's internet acquiring, the
    built-in sandbox, or none (card methods answer 501). Unset: the sandbox where
    KVIT_SANDBOX_ACQUIRER has it on (embedded mode by default), else none."""

    tbank_terminal_key: str | None = None
    """The T-Bank terminal's TerminalKey (KVIT_TBANK_TERMINAL_KEY); needed with tbank."""

    tbank_password: str | None = None
    """The terminal's password, which signs requests and notifications (KVIT_TBANK_PASSWORD)."""

    tbank_api_url: str = TBANK_API_URL
    """T-Bank's API base, up to /v2 (KVIT_TBANK_API_URL); the tests point it at the emulator."""

    tbank_receipts: bool = True
    """Send the 54-ФЗ receipt with each card payment (KVIT_TBANK_RECEIPTS): the terminal has
    T-Bank's online cash register. A card payment then needs the payer's e-mail."""

    tbank_taxation: str = "osn"
    """The receipt's taxation system, tag 1055 (KVIT_TBANK_TAXATION): osn, usn_income, ..."""

    tbank_vat: str = "none"
    """The VAT rate of each receipt item, tag 1199 (KVIT_TBANK_VAT): none, vat0, vat20, ..."""

    tbank_agent_phone: str | None = None
    """The payment agent's phone, +7..., for the receipt's agent attributes (tags 1073, 1074,
    and 1171 until suppliers have phones) (KVIT_TBANK_AGENT_PHONE); unset: none sent."""

    acquirer_reconcile_seconds: float = 300.0
    """Embedded mode: every this many seconds the server asks T-Bank (GetState) about card
    operations older than that whose outcome never arrived (KVIT_ACQUIRER_RECONCILE_SECONDS;
    0 turns it off). On PostgreSQL run `kvit acquirer reconcile --every SECONDS` instead."""

    acquirer_secret: str | None = None
    """Shared secret of the sandbox acquirer's webhook signatures (KVIT_ACQUIRER_SECRET). In
    embedded mode, generated once in the data dir; required on PostgreSQL with the sandbox
    (T-Bank signs with its terminal's password, so it needs none)."""

    smtp_url: str | None = None
    """Where card-payment notices go, e.g. smtp://127.0.0.1:1025 (KVIT_SMTP_URL)."""

    mail_receipt_wait_seconds: float = 0.0
    """How long a notice may wait for a signed checkpoint to cover its payment, so that it
    carries the receipt's QR code (KVIT_MAIL_RECEIPT_WAIT_SECONDS); 0 sends at once, with the
    code only if one is signed already. Pair it with KVIT_AUDIT_CHECKPOINT_INTERVAL_SECONDS."""

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
    429 (KVIT_LINK_ATTEMPTS_LIMIT): links, QR look-ups and payments to accounts the payer is not
    linked to, that do not prove possession with the bill's ИПД (unknown account, wrong ИПД, or
    an answer that shows only what is due)."""

    link_attempts_account_limit: int = 20
    """The same probes against one account, from all payers together, per window
    (KVIT_LINK_ATTEMPTS_ACCOUNT_LIMIT): many identities cannot share out guessing its ИПД."""

    link_attempts_window_seconds: int = 3600

    oidc_issuer: str | None = None
    """The OpenID Provider residents sign in with (KVIT_OIDC_ISSUER), e.g.
    https://id.example.ru/realms/kvit; its discovery document is read from
    `<issuer>/.well-known/openid-configuration`. Unset: no OpenID Connect sign-in (embedded mode
    keeps the demo sign-in; on PostgreSQL the cabinet offers no sign-in)."""

    oidc_client_id: str | None = None
    """Kvit's client id at the provider (KVIT_OIDC_CLIENT_ID); required with an issuer."""

    oidc_client_secret: str | None = None
    """Kvit's client secret (KVIT_OIDC_CLIENT_SECRET); unset: a public client (PKCE only)."""

    oidc_scopes: str = "openid"
    """Scopes asked for at sign-in, space-separated (KVIT_OIDC_SCOPES); `openid` is always
    asked for."""

    oidc_roles_claim: str | None = None
    """The claim naming an operator's or auditor's role, e.g. `roles` or `realm_access.roles`
    (a dotted path into nested claims), in the ID token or a bearer access token
    (KVIT_OIDC_ROLES_CLAIM). Unset: everyone who signs in is a resident."""

    oidc_audience: str | None = None
    """The `aud` an access token sent as a bearer must name (KVIT_OIDC_AUDIENCE); default: the
    client id."""

    @property
    def acquirer_kind(self) -> str:
        if self.acquirer is not None:
            return self.acquirer
        return "sandbox" if self.sandbox_enabled else "none"

    @property
    def sandbox_enabled(self) -> bool:
        if self.acquirer is not None:
            return self.acquirer == "sandbox"
        if self.sandbox_acquirer is not None:
            return self.sandbox_acquirer
        return not self.uses_postgres

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def base_url(self) -> str:
        return (self.public_url or DEFAULT_PUBLIC_URL).rstrip("/")
