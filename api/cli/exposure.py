"""What a server others can reach may offer: no demo unless asked for by name.

Demo sign-in mints a token for any payer and the sandbox acquirer approves any card, so both
are development switches. Unset, they are on in embedded mode; `kvit serve` on a host beyond
loopback (0.0.0.0, as the image runs it) turns the unset ones off, in the environment its
workers inherit. Set to true they stay on there, with a warning.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from api.settings import ApiSettings
from api.web import CabinetSettings, demo_sign_in_enabled


@dataclass(frozen=True)
class Switch:
    variable: str
    name: str
    risk: str


DEMO = Switch("KVIT_CABINET_DEMO_SIGN_IN", "demo sign-in", "sign in as any resident")
SANDBOX = Switch("KVIT_SANDBOX_ACQUIRER", "the sandbox acquirer", "approve their own card payments")


def is_loopback(host: str) -> bool:
    """Only this machine can reach `host`: a loopback address or `localhost`. Any other name
    counts as reachable, whatever it resolves to now."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def restrict(host: str, settings: ApiSettings) -> list[str]:
    """Turn off the development switches that are on only by default when `host` is beyond
    loopback; return what to tell the operator (nothing on loopback)."""
    if is_loopback(host):
        return []
    shown = host or "*"
    on = {
        DEMO: (demo_sign_in_enabled(settings), CabinetSettings().demo_sign_in is not None),
        SANDBOX: (
            settings.sandbox_enabled,
            settings.sandbox_acquirer is not None or settings.acquirer == "sandbox",
        ),
    }
    turned_off = [switch for switch, (enabled, asked) in on.items() if enabled and not asked]
    for switch in turned_off:
        os.environ[switch.variable] = "false"
    said = [
        f"warning: {switch.name} is on ({switch.variable}): anyone who reaches {shown} can"
        f" {switch.risk}"
        for switch, (enabled, asked) in on.items()
        if enabled and asked
    ]
    if turned_off:
        names = " and ".join(switch.name for switch in turned_off)
        verb, pronoun = ("are", "them") if len(turned_off) > 1 else ("is", "it")
        asks = " and ".join(f"{switch.variable}=true" for switch in turned_off)
        said.insert(
            0,
            f"listening on {shown}, beyond loopback: {names} {verb} off"
            f" (set {asks} to turn {pronoun} on)",
        )
    return said
