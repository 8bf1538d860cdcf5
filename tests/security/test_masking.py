"""What an unproven link shows of an address: the kind of each place (`г.`, `ул.`, `д.`) and the
first letter of each name, nothing more. Short names (`Уфа`, `Ир`) and house numbers with a
letter (`12А`) came through whole, and a name's length narrowed it down (`У**` is Уфа)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from api.masking import mask_address
from ledger.application import Ledger
from tests.api.helpers import PUBLIC_URL, bearer, build_app, created, keyed, register_supplier
from tests.fixtures import INN

OPERATOR = bearer(Role.OPERATOR)
MALLORY = bearer(Role.RESIDENT, "payer-mallory")


@pytest.mark.parametrize(
    "address, hidden",
    [
        ("г. Уфа, ул. Ленина, д. 12А, кв. 5", ["Уфа", "12А", "12", "5", "Ленина"]),
        ("с. Ир, ул. Мира, д. 3/1, корп. Б, кв. 7", ["Ир", "Мира", "3/1", " Б", "7"]),
        ("Респ. Коми, г. Инта, пр-т Ленина, д. 2к1", ["Инта", "Коми", "2к1"]),
    ],
)
def test_short_names_and_house_numbers_are_hidden(address: str, hidden: list[str]) -> None:
    masked = mask_address(address)
    for text in hidden:
        assert text not in masked, (text, masked)
    assert not re.search(r"\d", masked), masked


def test_the_kind_of_place_and_first_letters_stay_and_lengths_do_not_show() -> None:
    assert mask_address("г. Уфа, ул. Ленина, д. 12А, кв. 5") == "г. У***, ул. Л***, д. *, кв. *"
    assert mask_address("г. Уфа") == mask_address("г. Ухта")  # the length told them apart
    assert mask_address("пр-т Мира, корп. 2, стр. 1") == "пр-т М***, корп. *, стр. *"


def test_an_unproven_link_shows_no_short_name_or_house_number(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    address = "г. Уфа, ул. Ленина, д. 12А, кв. 5"
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as client:
        supplier_id = register_supplier(client, OPERATOR)
        body = {"supplier_id": supplier_id, "account_number": "UFA-1", "address": address}
        created(client.post("/v1/accounts", json=body, headers=keyed(OPERATOR)))
        link = {"supplier_inn": INN, "account_number": "UFA-1"}
        linked = created(client.post("/v1/me/accounts", json=link, headers=keyed(MALLORY)))
    assert linked["access"] == "limited"
    assert linked["address"] == "г. У***, ул. Л***, д. *, кв. *"
