"""Every error the writer may answer crosses its channel (pickle) whole: its class, its message
and its data. One that could not be rebuilt reached the worker as a TypeError, a 500."""

from __future__ import annotations

import pickle

import pytest

from ledger import errors
from ledger.notices.line import RegisterLineError
from storage.faults import UnconfirmedWriteError


def ledger_errors() -> list[type[errors.LedgerError]]:
    found: list[type[errors.LedgerError]] = []
    pending = [errors.LedgerError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", ledger_errors(), ids=lambda cls: cls.__name__)
def test_a_ledger_error_crosses_the_channel_with_its_code_and_data(
    cls: type[errors.LedgerError],
) -> None:
    sent = cls.__new__(cls)  # whatever its own signature (RegisterLineError takes a code first)
    errors.LedgerError.__init__(sent, "what went wrong", wallet_id="w-1", balance=10, amount=20)
    got = pickle.loads(pickle.dumps(sent))
    assert type(got) is cls and got.code == sent.code
    assert (got.message, got.data) == ("what went wrong", sent.data)


@pytest.mark.parametrize("committed", [True, False])
def test_an_unconfirmed_write_crosses_the_channel_and_says_whether_it_committed(
    committed: bool,
) -> None:
    got = pickle.loads(pickle.dumps(UnconfirmedWriteError("no standby", committed=committed)))
    assert type(got) is UnconfirmedWriteError
    assert (str(got), got.committed) == ("no standby", committed)


def test_a_register_line_error_keeps_its_own_code() -> None:
    got = pickle.loads(pickle.dumps(RegisterLineError("unterminated_line", "cut off", line=7)))
    assert (got.code, got.message, got.data) == ("unterminated_line", "cut off", {"line": 7})
