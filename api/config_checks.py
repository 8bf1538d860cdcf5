"""What `kvit serve` refuses to start with: secrets that anyone could know or guess.

A token secret or webhook secret that is a published default, a placeholder (`change-me…`) or
shorter than 32 bytes would let anyone mint tokens or approve their own top-ups, so the server
stops at once with one line saying what to set, instead of taking real money with it. So does
one that looks like unexpanded shell (`$(…)`, `${…}`, backticks): a `.env` file is not a shell,
so `KVIT_SECRET_KEY=$(python3 -c …)` there makes that published text the secret.
"""

from __future__ import annotations

from api.oidc.cookies import loopback_http
from api.settings import DEFAULT_ACQUIRER_SECRET, ApiSettings

MIN_SECRET_BYTES = 32
PUBLISHED = {DEFAULT_ACQUIRER_SECRET, "secret", "changeme", "sandbox-acquirer-secret"}
SHELL = ("$(", "${", "`")
HOW = (
    "e.g. `kvit secrets >> .env`, or"
    " `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)


class ConfigurationError(Exception):
    """A setting that must be fixed before the server may start; the message says how."""


def weakness(value: str) -> str | None:
    """Why a secret is unfit, or None if it is fine."""
    if any(mark in value for mark in SHELL):
        return (
            "looks like unexpanded shell ($(…), ${…} or backticks): a .env file runs no"
            " commands, so that text itself would be the secret"
        )
    if value.strip().lower() in PUBLISHED:
        return "is a published default"
    if "change-me" in value.lower() or "changeme" in value.lower():
        return "is a placeholder"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def check_settings(settings: ApiSettings) -> None:
    """Everything `serve` (and each worker) checks before serving: the secrets, the sign-in."""
    check_secrets(settings)
    check_oidc(settings)


def check_secrets(settings: ApiSettings) -> None:
    """Raise ConfigurationError for the first unfit secret. Unset secrets are generated into the
    data directory in embedded mode; on PostgreSQL every worker must share them, so they are
    required there. The webhook secret only with the sandbox acquirer, the one that signs with
    it (T-Bank signs with its terminal's password; with no acquirer nothing is signed)."""
    for variable, value, used in (
        ("KVIT_SECRET_KEY", settings.secret_key, True),
        ("KVIT_ACQUIRER_SECRET", settings.acquirer_secret, settings.acquirer_kind == "sandbox"),
    ):
        if value is not None:
            check_secret(variable, value)  # set, even if unused: never a guessable one
        elif used and settings.uses_postgres:
            raise ConfigurationError(
                f"set {variable} to a random secret of at least {MIN_SECRET_BYTES} bytes"
                f" ({HOW}); on PostgreSQL every process must share it"
            )


def check_secret(variable: str, value: str) -> None:
    """Raise ConfigurationError, naming `variable`, if `value` is unfit."""
    why = weakness(value)
    if why:
        raise ConfigurationError(
            f"{variable} {why}: set it to a random secret of at least"
            f" {MIN_SECRET_BYTES} bytes ({HOW})"
        )


def check_oidc(settings: ApiSettings) -> None:
    """Raise ConfigurationError for OpenID Connect settings that cannot work: a client without
    an issuer, an issuer without a client, or an address a browser would not keep the
    session's Secure cookie on."""
    if not settings.oidc_issuer:
        stray = [
            variable
            for variable, value in (
                ("KVIT_OIDC_CLIENT_ID", settings.oidc_client_id),
                ("KVIT_OIDC_CLIENT_SECRET", settings.oidc_client_secret),
                ("KVIT_OIDC_ROLES_CLAIM", settings.oidc_roles_claim),
                ("KVIT_OIDC_AUDIENCE", settings.oidc_audience),
            )
            if value
        ]
        if stray:
            raise ConfigurationError(f"{', '.join(stray)} needs KVIT_OIDC_ISSUER set too")
        return
    if not settings.oidc_client_id:
        raise ConfigurationError("KVIT_OIDC_ISSUER needs KVIT_OIDC_CLIENT_ID (Kvit's client id)")
    for variable, url in (
        ("KVIT_OIDC_ISSUER", settings.oidc_issuer),
        ("KVIT_PUBLIC_URL", settings.base_url),
    ):
        if not url.startswith("https://") and not loopback_http(url):
            raise ConfigurationError(
                f"{variable} must be an https:// URL with OpenID Connect sign-in"
                f" (plain http only on a loopback address), got {url}"
            )
