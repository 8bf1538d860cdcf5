"""The read models. Each has its own tables and its own tracking position."""

from __future__ import annotations

from projections.models.account_balance import AccountBalance
from projections.models.base import ReadModel
from projections.models.matching import Matching
from projections.models.payment_history import PaymentHistory
from projections.models.trial_balance import TrialBalance
from projections.models.wallet_balance import WalletBalance

MODELS: dict[str, type[ReadModel]] = {
    cls.name: cls for cls in (AccountBalance, WalletBalance, PaymentHistory, TrialBalance, Matching)
}
NAMES: tuple[str, ...] = tuple(MODELS)
READ_YOUR_WRITES: tuple[str, ...] = (
    AccountBalance.name,
    WalletBalance.name,
    PaymentHistory.name,
)
"""What a write's answer waits for: the balances and the history a resident reads next. Never
the trial balance or matching (the register): an operator's read of those asks for its own
`min_position`, and a bank's notice upload waits for every model."""

LAGGING: tuple[str, ...] = tuple(n for n in NAMES if n not in READ_YOUR_WRITES)
"""The models `kvit project` may apply a little later, in bigger batches (ReadSettings'
`lagging_linger_seconds`): what no write's answer waits for by default."""


class UnknownProjectionError(ValueError):
    pass


def build(names: tuple[str, ...] | list[str] | None = None) -> list[ReadModel]:
    """Fresh instances of the named read models (all of them by default)."""
    chosen = list(names) if names else list(NAMES)
    unknown = [n for n in chosen if n not in MODELS]
    if unknown:
        raise UnknownProjectionError(
            f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(NAMES)}"
        )
    return [MODELS[n]() for n in chosen]
