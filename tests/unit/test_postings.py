"""Double entry: every transfer is two postings that balance; an unbalanced set is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.postings import Posting, balanced, is_balanced, transfer


@given(st.integers(min_value=1, max_value=10**12))
def test_a_transfer_balances(amount: int) -> None:
    postings = transfer(debit="wallet:a", credit="payable:b", amount=amount)
    assert is_balanced(postings)
    assert postings == [
        {"account": "wallet:a", "amount": amount},
        {"account": "payable:b", "amount": -amount},
    ]


@pytest.mark.parametrize("amount", [0, -1])
def test_a_transfer_moves_a_positive_amount(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        transfer(debit="wallet:a", credit="payable:b", amount=amount)


def test_an_unbalanced_set_of_postings_is_refused() -> None:
    unbalanced: list[Posting] = [
        {"account": "wallet:a", "amount": 100},
        {"account": "payable:b", "amount": -99},
    ]
    assert not is_balanced(unbalanced)
    with pytest.raises(ValueError, match="sum to zero"):
        balanced(unbalanced)
    assert balanced([*unbalanced, {"account": "bank:c", "amount": -1}])  # three legs may balance
