"""Matching (квитирование): which bill lines every payment and bank notice paid.

A *receipt* is money an account received: a succeeded payment (card or wallet) or an accepted
bank notice. Its *net* is what it brought minus what was refunded (payments) or annulled
(notices). Matching is a function of the account's current receipts and current bills (issued,
added to the account, not withdrawn or replaced), recomputed whenever either changes:

1. **Named bill first.** Receipts in the order they were received (log position): the part
   of a receipt that names a bill (its ИПД; or a period, which names the account's oldest
   current bill of that period) goes to that bill — following replacements — up to what the
   bill still asks.
2. **Then the oldest unpaid lines.** Again in order of receipt, what is left of each receipt
   goes to the account's current bills from the oldest to the newest (by billing period, then
   by issue order), each up to what is still unpaid.
3. **Proportionally over a bill's lines.** An amount that pays a bill in full pays each line
   what it still asks; an amount that pays only part of a bill is spread over the lines in
   proportion to what each still asks, in whole kopecks by largest remainder (ties go to the
   earlier line), so the line amounts sum exactly to it and no line gets more than it asks.
   A negative line (a recalculation) is first netted against the bill's positive lines, in
   proportion to them, the same way: a line's *due* is never negative.
4. **The rest is advance**, which the next bill absorbs (rule 2 runs again when it is issued).

Bill totals follow the account-balance rule (projections/allocation.py) for receipts that
name a bill or none; a receipt naming only a period is matched to that period's bill here.

Statuses of a receipt (exactly one applies, checked in this order):

- `new`: no money was received (yet): a payment not succeeded (pending, failed, canceled);
- `annulled`: it was received but its whole amount was refunded or annulled: it matches nothing;
- `impossible`: money was received but none of it could be matched to any bill line (no current
  bill asks for anything): all of it is advance;
- `partially_matched`: part of the net amount is matched to bill lines, the rest is advance;
- `matched`: the whole net amount is matched, all of it to the bill the payer named (by ИПД or
  period);
- `preliminarily_matched`: the whole net amount is matched to bill lines, but by the rule
  rather than by the payer: no bill or period was named, the named period has no bill, or part
  went to other bills than the named one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

NEW = "new"
MATCHED = "matched"
PARTIALLY_MATCHED = "partially_matched"
PRELIMINARILY_MATCHED = "preliminarily_matched"
IMPOSSIBLE = "impossible"
ANNULLED = "annulled"
STATUSES = (NEW, MATCHED, PARTIALLY_MATCHED, PRELIMINARILY_MATCHED, IMPOSSIBLE, ANNULLED)

# The rule's values are named tuples, not frozen dataclasses: every re-matching of an account
# builds them for its whole history, and a frozen dataclass costs about three times as much to
# build. They stay immutable and hashable (matched lines are cached by value).


class BillLines(NamedTuple):
    bill_id: str
    document_id: str | None
    period: str
    order: int
    """Issue order (the position that added the bill to its account)."""
    lines: tuple[tuple[str, int], ...]
    """(service, amount as billed), in the bill's order; amounts may be negative."""


class Receipt(NamedTuple):
    receipt_id: str
    order: int
    """When it was received (log position): earlier receipts are matched first."""
    received: bool
    amount: int
    reversed: int
    """Refunded or annulled so far."""
    bill_id: str | None
    """The named bill as it stands now (after replacements), or None."""
    named: bool
    """The payer named a bill or a period."""

    @property
    def net(self) -> int:
        return self.amount - self.reversed if self.received else 0


class LineMatch(NamedTuple):
    bill_id: str
    document_id: str | None
    period: str
    line: int
    """Index of the line in its bill."""
    service: str
    amount: int


class Match(NamedTuple):
    lines: tuple[LineMatch, ...]
    matched: int
    advance: int
    status: str


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` over non-negative `weights` in proportion, whole units, largest remainder
    (ties to the earlier index); sums exactly to `amount`. Needs 0 <= amount <= sum(weights)."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    if amount == total:  # paid in full, the common case: each gets its weight exactly
        return list(weights)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def line_dues(amounts: Sequence[int]) -> list[int]:
    """Each line's due: negative lines netted against the positive ones (rule 3)."""
    if min(amounts, default=0) >= 0:  # nothing to net, the common case
        return list(amounts)
    positive = [max(a, 0) for a in amounts]
    credit = -sum(a for a in amounts if a < 0)
    cut = spread(min(credit, sum(positive)), positive)
    return [p - c for p, c in zip(positive, cut, strict=True)]


def match(receipts: Iterable[Receipt], bills: Iterable[BillLines]) -> dict[str, Match]:
    """Every receipt's match, by the rule above."""
    ordered_bills = sorted(bills, key=lambda b: (b.period, b.order, b.bill_id))
    left = {b.bill_id: line_dues([a for _, a in b.lines]) for b in ordered_bills}
    by_id = {b.bill_id: b for b in ordered_bills}
    rank = {b.bill_id: n for n, b in enumerate(ordered_bills)}
    ordered = sorted(receipts, key=lambda r: (r.order, r.receipt_id))
    # Each receipt's matched lines, keyed (bill's rank, line): they sort as the result lists
    # them without a key function.
    got: dict[str, dict[tuple[int, int], int]] = {r.receipt_id: {} for r in ordered}
    rest = {r.receipt_id: r.net for r in ordered}

    def pay(receipt_id: str, bill: BillLines) -> None:
        remaining = left[bill.bill_id]
        amount = min(rest[receipt_id], sum(remaining))
        if amount <= 0:
            return
        shares = spread(amount, remaining)
        mine, at = got[receipt_id], rank[bill.bill_id]
        for i, share in enumerate(shares):
            if share:
                remaining[i] -= share
                mine[(at, i)] = mine.get((at, i), 0) + share
        rest[receipt_id] -= amount

    for receipt in ordered:  # rule 1
        if receipt.bill_id in by_id:
            pay(receipt.receipt_id, by_id[receipt.bill_id])
    # A bill paid in full stays so (dues are never negative): later receipts skip it, so an
    # account's long history of paid bills costs nothing per receipt.
    unpaid = [b for b in ordered_bills if sum(left[b.bill_id]) > 0]
    for receipt in ordered:  # rule 2
        if rest[receipt.receipt_id] <= 0:
            continue
        for bill in unpaid:
            if rest[receipt.receipt_id] <= 0:
                break
            pay(receipt.receipt_id, bill)
        unpaid = [b for b in unpaid if sum(left[b.bill_id]) > 0]

    result = {}
    for receipt in ordered:
        mine = got[receipt.receipt_id]
        lines = tuple(
            LineMatch(
                (bill := ordered_bills[at]).bill_id,
                bill.document_id,
                bill.period,
                i,
                bill.lines[i][0],
                amount,
            )
            for (at, i), amount in (sorted(mine.items()) if len(mine) > 1 else mine.items())
        )
        matched = sum(mine.values())
        only_named = receipt.named and all(line.bill_id == receipt.bill_id for line in lines)
        result[receipt.receipt_id] = Match(
            lines, matched, rest[receipt.receipt_id], status(receipt, matched, only_named)
        )
    return result


def status(receipt: Receipt, matched: int, only_named: bool) -> str:
    if not receipt.received:
        return NEW
    if receipt.net <= 0:
        return ANNULLED
    if matched == 0:
        return IMPOSSIBLE
    if matched < receipt.net:
        return PARTIALLY_MATCHED
    return MATCHED if only_named else PRELIMINARILY_MATCHED
