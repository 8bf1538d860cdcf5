"""Natural ids never change: every id ever stored was hashed from the key's JSON text."""

from __future__ import annotations

import json
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.ids import key_text, natural_id

keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(keys, min_size=1, max_size=4))
def test_the_key_text_is_jsons(items: list[str]) -> None:
    assert key_text(*items) == json.dumps(items, ensure_ascii=False)


def test_an_id_made_before_is_made_again() -> None:
    made_by_json_dumps = UUID("46b11ca7-8aa1-54dc-82ff-794169624b2b")
    order_id = "10445252250000001503202600000001"
    assert natural_id("bank_notice", "044525225", order_id) == made_by_json_dumps
