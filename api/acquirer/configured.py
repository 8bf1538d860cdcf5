"""The acquirer KVIT_ACQUIRER names, built from its settings; refused in one line when they
are incomplete."""

from __future__ import annotations

from api.acquirer import sandbox
from api.acquirer.base import Acquirer
from api.acquirer.tbank.acquirer import TBankAcquirer
from api.acquirer.tbank.client import TBankClient
from api.acquirer.tbank.receipt import ReceiptSettings
from api.config_checks import ConfigurationError
from api.settings import ApiSettings


def check_acquirer(settings: ApiSettings) -> None:
    if settings.acquirer_kind != "tbank":
        return
    for variable, value in (
        ("KVIT_TBANK_TERMINAL_KEY", settings.tbank_terminal_key),
        ("KVIT_TBANK_PASSWORD", settings.tbank_password),
    ):
        if not value:
            raise ConfigurationError(
                f"KVIT_ACQUIRER=tbank needs {variable} (from the terminal's page in T-Business)"
            )
    if settings.tbank_agent_phone is not None and not settings.tbank_agent_phone.startswith("+"):
        raise ConfigurationError("KVIT_TBANK_AGENT_PHONE must be written +{digits}, e.g. +7...")


def configured_acquirer(
    settings: ApiSettings, webhook_secret: str | None, deliver: sandbox.Deliver | None = None
) -> Acquirer | None:
    """None when card payments are off (KVIT_ACQUIRER=none, or the sandbox off by default).
    `webhook_secret` is the sandbox's, which has one (api/auth.py: acquirer_secret)."""
    check_acquirer(settings)
    kind = settings.acquirer_kind
    if kind == "sandbox":
        assert webhook_secret is not None
        return sandbox.SandboxAcquirer(settings.base_url, webhook_secret, deliver)
    if kind == "tbank":
        assert settings.tbank_terminal_key and settings.tbank_password
        client = TBankClient(
            settings.tbank_terminal_key, settings.tbank_password, settings.tbank_api_url
        )
        receipts = (
            ReceiptSettings(
                taxation=settings.tbank_taxation,
                vat=settings.tbank_vat,
                agent_phone=settings.tbank_agent_phone,
            )
            if settings.tbank_receipts
            else None
        )
        return TBankAcquirer(client, settings.base_url, receipts)
    return None
