"""The one rule (write and read side) for applying what an account has received to its bills.

1. A payment made against a bill (it names the bill's ИПД) goes to that bill, up to what the
   bill asks; if the bill was replaced, to the bill that replaced it. Refunds reverse this.
2. Everything else — payments without a bill, the part of a bill payment above that bill's
   amount, and payments to a bill later withdrawn without replacement — goes to the account's
   current bills from the oldest to the newest (by billing period, then by issue order),
   each up to what is still unpaid.
3. What is left after every current bill is paid is the account's advance, which the next bill
   absorbs (rule 2 applies it as soon as that bill is issued).

So for an account: due = max(0, accrued - paid + refunded), advance = max(0, paid - refunded -
accrued), and never both above zero. A bill is `paid` when it got all it asks, `partially_paid`
when it got some, `unpaid` otherwise; a withdrawn or replaced bill is `withdrawn` and holds
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PAID, PARTIALLY_PAID, UNPAID, WITHDRAWN = "paid", "partially_paid", "unpaid", "withdrawn"


@dataclass(frozen=True)
class BillInput:
    bill_id: str
    period: str
    order: int
    """Issue order within a period (the position that added the bill to the account)."""
    amount_due: int
    paid_direct: int
    """Paid against this bill (net of refunds), including what was paid to bills it replaced."""


def bill_status(amount_due: int, applied: int) -> str:
    if applied >= amount_due:
        return PAID
    return PARTIALLY_PAID if applied > 0 else UNPAID


def allocate(net_paid: int, current: Iterable[BillInput]) -> tuple[dict[str, int], int]:
    """What each current bill is credited with, and the advance left over."""
    bills = sorted(current, key=lambda b: (b.period, b.order))
    direct = {b.bill_id: min(max(b.paid_direct, 0), b.amount_due) for b in bills}
    pool = net_paid - sum(direct.values())
    applied: dict[str, int] = {}
    for bill in bills:
        extra = max(0, min(pool, bill.amount_due - direct[bill.bill_id]))
        applied[bill.bill_id] = direct[bill.bill_id] + extra
        pool -= extra
    return applied, max(0, pool)
