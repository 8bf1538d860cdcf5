"""Which payers are linked to which personal accounts, as far as this process has seen.

A payment asks this on every call (api/payment_probes.py: a payment to an account one is not
linked to is a probe). The hot answers (projections/hot.py) cannot answer it for long: the
cached list of a payer's accounts depends on each account's balance, so every payment to the
account drops it. A link, though, is never undone (a personal account has no unlink), so a
link seen once, by any read or by the write that made it, is true for good: remembered here
with nothing to invalidate. What is not here is unknown, not absent: the caller reads the
store then (a link made through another worker, or forgotten when the set was full).
"""

from __future__ import annotations

from uuid import UUID

MAX_LINKS = 200_000
"""About 30 MB at most; past it the set starts over (forgetting costs a read, never a wrong
answer)."""


class KnownLinks:
    def __init__(self, max_links: int = MAX_LINKS) -> None:
        self.max_links = max_links
        self._links: set[tuple[str, str]] = set()

    def add(self, payer_id: str, account_id: UUID | str) -> None:
        """Remember a link the caller saw committed (the account's own state, a read model's
        row, or the link's write)."""
        if len(self._links) >= self.max_links:
            self._links.clear()
        self._links.add((payer_id, str(account_id)))

    def known(self, payer_id: str, account_id: UUID | str) -> bool:
        """True: the payer is linked to the account. False: not known here (ask the store)."""
        return (payer_id, str(account_id)) in self._links

    def __len__(self) -> int:
        return len(self._links)
