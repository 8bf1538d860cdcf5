"""The write side's one rule for free text (ledger/domain/text.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.text import BANK_NAME, PAYER_NAME, TextField
from ledger.errors import InvalidTextError

NAME = TextField("name", 20)


@given(st.text(max_size=40))
def test_whatever_is_accepted_is_kept_whole_by_postgresql_and_fits_its_field(value: str) -> None:
    for field in (NAME, TextField("payer", 20, fold=False)):
        try:
            text = field.parse(value)
        except InvalidTextError as error:
            assert error.code == "invalid_text"
            assert error.data["reason"] in ("empty", "too_long", "control_character")
            continue
        assert 1 <= len(text) <= field.max_length
        assert "\x00" not in text and text == text.strip()
        text.encode("utf-8")  # no lone surrogate
        assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in text)


def test_names_fold_whitespace_and_bank_text_keeps_it() -> None:
    assert NAME.parse("  ООО\t«УК»\r\n Пример ") == "ООО «УК» Пример"
    assert PAYER_NAME.parse(" Иванов\u00a0 И.И. ") == "Иванов\u00a0 И.И."


@pytest.mark.parametrize("value", ["\ud800", "a\u2028b", "a\ufeff", "a\u202eb", "\x00"])
def test_invisible_and_control_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidTextError) as refusal:
        PAYER_NAME.parse(value)
    assert refusal.value.data["reason"] == "control_character"


def test_a_bank_name_is_held_to_the_qr_standards_45_characters() -> None:
    assert BANK_NAME.parse("Б" * 45) == "Б" * 45
    with pytest.raises(InvalidTextError):
        BANK_NAME.parse("Б" * 46)
    assert BANK_NAME.parse_optional("  ") is None
