"""The rule for applying payments to bills (projections/allocation.py)."""

from __future__ import annotations

from projections.allocation import BillInput, allocate, bill_status


def bill(bill_id: str, period: str, due: int, direct: int = 0, order: int = 0) -> BillInput:
    return BillInput(bill_id, period, order, due, direct)


def test_payment_without_a_bill_goes_to_the_oldest_unpaid_bill_first() -> None:
    applied, advance = allocate(150, [bill("march", "2026-03", 100), bill("feb", "2026-02", 100)])
    assert applied == {"feb": 100, "march": 50}
    assert advance == 0


def test_payment_to_a_bill_stays_on_that_bill_even_if_an_older_one_is_unpaid() -> None:
    applied, advance = allocate(
        100, [bill("feb", "2026-02", 100), bill("march", "2026-03", 100, direct=100)]
    )
    assert applied == {"feb": 0, "march": 100}
    assert advance == 0


def test_overpayment_of_a_bill_flows_to_the_oldest_other_bill_then_to_advance() -> None:
    applied, advance = allocate(
        260, [bill("feb", "2026-02", 100), bill("march", "2026-03", 100, direct=260)]
    )
    assert applied == {"feb": 100, "march": 100}
    assert advance == 60


def test_an_advance_is_absorbed_by_the_next_bill() -> None:
    _, advance = allocate(80, [])
    assert advance == 80
    applied, advance = allocate(80, [bill("april", "2026-04", 50)])
    assert applied == {"april": 50}
    assert advance == 30


def test_bills_of_one_period_are_paid_in_issue_order() -> None:
    applied, _ = allocate(
        30, [bill("second", "2026-03", 20, order=9), bill("first", "2026-03", 20, order=3)]
    )
    assert applied == {"first": 20, "second": 10}


def test_statuses() -> None:
    assert bill_status(100, 100) == "paid"
    assert bill_status(100, 1) == "partially_paid"
    assert bill_status(100, 0) == "unpaid"
    assert bill_status(0, 0) == "paid"
