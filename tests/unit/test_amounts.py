"""Amounts: whole kopecks within one bound; rubles read and written by one rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.amounts import MAX_AMOUNT, check_amount, kopecks_of_rubles, rubles
from ledger.errors import InvalidAmountError


@given(st.integers(min_value=0, max_value=MAX_AMOUNT))
def test_rubles_written_read_back_the_same(kopecks: int) -> None:
    assert kopecks_of_rubles(rubles(kopecks)) == kopecks


@pytest.mark.parametrize(
    ("text", "kopecks"), [("5234,17", 523417), ("5234.17", 523417), ("5234", 523400), ("0,5", 50)]
)
def test_rubles_take_a_comma_or_a_point(text: str, kopecks: int) -> None:
    assert kopecks_of_rubles(text) == kopecks


@pytest.mark.parametrize("text", ["5234,171", "-5", "1e3", "", "5 234", "5234,17 руб", "١٢"])
def test_anything_else_is_not_rubles(text: str) -> None:
    assert kopecks_of_rubles(text) is None


def test_negative_kopecks_are_written_with_a_sign() -> None:
    assert rubles(-523417) == "-5234,17"
    assert rubles(5) == "0,05"


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, True, 1.5])
def test_an_amount_is_positive_whole_kopecks_within_the_bound(amount: object) -> None:
    with pytest.raises(InvalidAmountError):
        check_amount(amount)  # type: ignore[arg-type]
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
