"""The matching rule (projections/matching.py) on multi-line bills: named bill first, then the
oldest unpaid lines, proportional spread with largest remainder, the rest advance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.matching import (
    ANNULLED,
    IMPOSSIBLE,
    MATCHED,
    NEW,
    PARTIALLY_MATCHED,
    PRELIMINARILY_MATCHED,
    BillLines,
    Receipt,
    line_dues,
    match,
    spread,
)

MARCH = BillLines("b3", "70АА000560-01-6031", "2026-03", 10, (("water", 30000), ("heat", 70000)))
APRIL = BillLines(
    "b4", "70АА000560-01-6041", "2026-04", 20, (("water", 10001), ("heat", 20002), ("lift", 3))
)


def receipt(rid: str, order: int, amount: int, **kw: object) -> Receipt:
    fields: dict[str, object] = {
        "received": True,
        "reversed": 0,
        "bill_id": None,
        "named": False,
        **kw,
    }
    return Receipt(rid, order, amount=amount, **fields)  # type: ignore[arg-type]


def amounts(found: object) -> list[tuple[str, str, int]]:
    return [(m.bill_id, m.service, m.amount) for m in found.lines]  # type: ignore[attr-defined]


def test_an_underpayment_is_spread_over_the_oldest_bill_in_proportion() -> None:
    found = match([receipt("p", 1, 50000)], [APRIL, MARCH])["p"]
    assert amounts(found) == [("b3", "water", 15000), ("b3", "heat", 35000)]
    assert (found.matched, found.advance, found.status) == (50000, 0, PRELIMINARILY_MATCHED)


def test_largest_remainder_makes_lines_sum_exactly() -> None:
    found = match([receipt("p", 1, 10000, bill_id="b4", named=True)], [MARCH, APRIL])["p"]
    # 10000 over 10001 : 20002 : 3 -> 3333.0, 6666.0..., 0.99...: remainders decide.
    assert sum(m.amount for m in found.lines) == 10000
    assert amounts(found) == [("b4", "water", 3333), ("b4", "heat", 6666), ("b4", "lift", 1)]
    assert found.status == MATCHED


def test_a_named_bill_comes_first_and_the_excess_goes_to_the_oldest_unpaid_lines() -> None:
    found = match([receipt("p", 1, 36006, bill_id="b4", named=True)], [MARCH, APRIL])["p"]
    assert amounts(found) == [
        ("b3", "water", 1800),
        ("b3", "heat", 4200),
        ("b4", "water", 10001),
        ("b4", "heat", 20002),
        ("b4", "lift", 3),
    ]
    assert found.status == PRELIMINARILY_MATCHED  # part went to a bill the payer did not name


def test_an_overpayment_pays_everything_and_leaves_an_advance() -> None:
    found = match([receipt("p", 1, 150000)], [MARCH, APRIL])["p"]
    assert found.matched == 100000 + 30006
    assert found.advance == 150000 - 130006
    assert found.status == PARTIALLY_MATCHED


def test_with_nothing_to_pay_the_whole_amount_is_advance() -> None:
    found = match([receipt("p", 1, 500)], [])["p"]
    assert (found.matched, found.advance, found.status) == (0, 500, IMPOSSIBLE)


def test_named_bills_are_served_before_earlier_unnamed_receipts() -> None:
    found = match(
        [receipt("a", 1, 100000), receipt("b", 2, 100000, bill_id="b3", named=True)],
        [MARCH, APRIL],
    )
    assert {m.bill_id for m in found["b"].lines} == {"b3"} and found["b"].status == MATCHED
    assert found["a"].matched == 30006 and found["a"].advance == 100000 - 30006


def test_a_refund_and_an_annulment_reverse_what_they_matched() -> None:
    paid = receipt("p", 1, 100000)
    refunded = receipt("p", 1, 100000, reversed=40000)
    annulled = receipt("n", 2, 30006, reversed=30006)
    before = match([paid], [MARCH, APRIL])["p"]
    after = match([refunded, annulled], [MARCH, APRIL])
    assert before.matched == 100000 and after["p"].matched == 60000
    assert amounts(after["p"]) == [("b3", "water", 18000), ("b3", "heat", 42000)]
    assert (after["n"].matched, after["n"].advance, after["n"].status) == (0, 0, ANNULLED)


def test_a_payment_not_yet_received_matches_nothing_and_is_new() -> None:
    found = match([receipt("p", 1, 100, received=False)], [MARCH])["p"]
    assert (found.matched, found.advance, found.status) == (0, 0, NEW)


def test_a_recalculation_line_is_netted_against_the_positive_lines() -> None:
    assert line_dues([30000, -10000, 70000]) == [27000, 0, 63000]
    bill = BillLines(
        "b", None, "2026-05", 1, (("water", 30000), ("recalc", -10000), ("heat", 70000))
    )
    found = match([receipt("p", 1, 90000)], [bill])["p"]
    assert amounts(found) == [("b", "water", 27000), ("b", "heat", 63000)]


@given(
    st.integers(0, 10**9),
    st.lists(st.integers(0, 10**7), min_size=1, max_size=12),
)
def test_spread_sums_exactly_and_never_exceeds_a_weight(amount: int, weights: list[int]) -> None:
    amount = min(amount, sum(weights))
    shares = spread(amount, weights)
    assert sum(shares) == amount
    assert all(0 <= s <= w for s, w in zip(shares, weights, strict=True))
