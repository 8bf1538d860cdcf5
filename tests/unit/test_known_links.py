"""The links a worker has seen (projections/known_links.py): remembered for good, bounded."""

from __future__ import annotations

from uuid import uuid4

from projections.known_links import KnownLinks


def test_a_link_seen_is_known_by_its_id_as_text_or_uuid() -> None:
    links = KnownLinks()
    account_id = uuid4()

    links.add("payer-anna", account_id)

    assert links.known("payer-anna", account_id)
    assert links.known("payer-anna", str(account_id))
    assert not links.known("payer-boris", account_id)
    assert not links.known("payer-anna", uuid4())


def test_a_full_set_starts_over_rather_than_grow() -> None:
    links = KnownLinks(max_links=2)
    first, second, third = uuid4(), uuid4(), uuid4()

    for account_id in (first, second, third):
        links.add("payer-anna", account_id)

    assert len(links) == 1
    assert links.known("payer-anna", third)
    assert not links.known("payer-anna", first)  # forgotten: the store is asked again
