"""`kvit demo` dates its bills from today: its payments are made today, so its bills are this
month's (left unpaid for the cabinet) and the months just before, never a year that has gone."""

from __future__ import annotations

from datetime import date

import pytest

from api.demo import fill, fill_cabinet
from ledger.application import Ledger
from ledger.domain import Bill
from ledger.engine.persistence import in_memory_env

ELS = "70АА000000"  # the first demo account's


@pytest.mark.parametrize(
    ("today", "periods", "dues"),
    [
        (
            date(2026, 12, 6),
            ["2026-09", "2026-10", "2026-11", "2026-12"],
            ["2026-10-15", "2026-11-15", "2026-12-15", "2027-01-15"],
        ),
        (
            date(2027, 2, 28),
            ["2026-11", "2026-12", "2027-01", "2027-02"],
            ["2026-12-15", "2027-01-15", "2027-02-15", "2027-03-15"],
        ),
    ],
)
def test_the_demo_bills_this_month_and_the_months_just_before(
    today: date, periods: list[str], dues: list[str]
) -> None:
    ledger = Ledger(in_memory_env())
    fill(ledger, suppliers=1, accounts=1, months=3, today=today)
    fill_cabinet(ledger, suppliers=1, accounts=1, months=3, today=today)
    bills = [ledger.repository.get(Bill.id_for(f"{ELS}-01-{n:04d}")) for n in range(1, 5)]
    assert [b.period for b in bills] == periods
    assert [b.due_date for b in bills] == dues
