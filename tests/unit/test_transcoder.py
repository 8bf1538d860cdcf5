"""The orjson transcoder writes and reads exactly the bytes the library's JSON transcoder does:
stored events are hashed into the audit chain, so not one byte may change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.engine.persistence import in_memory_env
from ledger.payments.commands import CreatePayment
from storage.transcoder import OrjsonTranscoder
from tests.fixtures import setup_world, top_up


class TodaysLedger(Ledger):
    """The ledger as it stored events before: the library's own JSON transcoder."""

    def construct_transcoder(self) -> Transcoder:
        return Application.construct_transcoder(self)


@pytest.fixture
def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    app = Ledger(in_memory_env())
    try:
        old = JSONTranscoder()
        app.register_transcodings(old)
        new = app.mapper.transcoder
        assert isinstance(new, OrjsonTranscoder)
        return old, new
    finally:
        app.close()


def stored_states(app: Ledger) -> Iterator[bytes]:
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        yield notification.state


def test_events_stored_by_todays_code_read_and_write_back_byte_for_byte(
    transcoders: tuple[JSONTranscoder, OrjsonTranscoder],
) -> None:
    old, new = transcoders
    app = TodaysLedger(in_memory_env())
    try:
        world = setup_world(app, wallet_balance=100_000)
        top_up(app, world.wallet_id, world.payer_id, 5_000, key="more")
        for n in range(3):
            app.execute(
                CreatePayment.parse(
                    payer_id=world.payer_id,
                    account_id=world.account_id,
                    method="wallet",
                    wallet_id=world.wallet_id,
                    amount=100 + n,
                    confirm=True,
                    idempotency_key=f"p{n}",
                )
            )
        states = list(stored_states(app))
    finally:
        app.close()

    assert len(states) > 20
    for state in states:
        decoded = new.decode(state)
        assert decoded == old.decode(state)
        assert new.encode(decoded) == state


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": 'Отопление "кв." 1\n\t\x00\x1f\x7f\u2028', "c": None, "d": True},
        {"id": UUID(int=7), "at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "n": Decimal("1.10")},
        {"nested": [{"id": uuid4()}, (1, 2, "x")], "empty": {}, "list": []},
        {"big": 2**70, "negative": -(2**63) - 1, "max": 2**64 - 1},
        {"float": 0.1, "exp": 1e16, "tiny": 5e-324, "nan": float("nan")},
        {"str_enum": StrEnum("S", {"A": "a"}).A, "int_enum": IntEnum("I", {"B": 2}).B},
        {"_type_": "looks", "_data_": "like a transcoding but is not registered"},
    ],
)
def test_the_same_bytes_as_the_library_for_any_value(
    transcoders: tuple[JSONTranscoder, OrjsonTranscoder], value: dict[str, Any]
) -> None:
    old, new = transcoders
    encoded = old.encode(value)
    assert new.encode(value) == encoded
    if value.get("_type_") == "looks":
        with pytest.raises(TranscodingNotRegisteredError):
            new.decode(encoded)
        return
    assert repr(new.decode(encoded)) == repr(old.decode(encoded))  # NaN != NaN, repr agrees


def test_what_the_library_refuses_it_refuses_too(
    transcoders: tuple[JSONTranscoder, OrjsonTranscoder],
) -> None:
    old, new = transcoders
    for value in ({"when": datetime(2026, 3, 1).date()}, {1: "int key"}, {"set": {1}}):
        try:
            expected: bytes | type[Exception] = old.encode(value)
        except Exception as error:  # the library's own refusal
            expected = type(error)
        if isinstance(expected, bytes):
            assert new.encode(value) == expected
        else:
            with pytest.raises(expected):
                new.encode(value)


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=8)
    | st.uuids()
    | st.datetimes(timezones=st.just(UTC))
    | st.decimals(allow_nan=False, places=2, max_value=10**6, min_value=-(10**6))
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@given(value=st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_any_state_encodes_to_the_librarys_bytes(value: dict[str, Any]) -> None:
    app = Ledger(in_memory_env())
    try:
        old = JSONTranscoder()
        app.register_transcodings(old)
        assert app.mapper.transcoder.encode(value) == old.encode(value)
    finally:
        app.close()


@given(value=st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_a_new_events_fields_encode_to_the_librarys_bytes(value: dict[str, Any]) -> None:
    """`encode_fields` (a bulk import's events, storage/encode.py): the library's bytes for
    the fields in the order named, whatever they hold (a float or a huge integer included)."""
    app = Ledger(in_memory_env())
    try:
        old = JSONTranscoder()
        app.register_transcodings(old)
        new = app.mapper.transcoder
        assert isinstance(new, OrjsonTranscoder)
        names = sorted(value, reverse=True)  # not the dict's own order
        assert new.encode_fields(names, value) == old.encode({n: value[n] for n in names})
    finally:
        app.close()
