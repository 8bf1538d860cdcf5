"""Suppliers: registered by operators, looked up by id or ИНН by operators and auditors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import SUPPLIER, Headers, keyed, problem, register_supplier
from tests.fixtures import INN, KPP, OTHER_INN, REQUISITES


def test_registered_supplier_is_found_by_id_and_by_inn(
    client: TestClient, operator: Headers
) -> None:
    response = client.post("/v1/suppliers", json=SUPPLIER, headers=keyed(operator))

    assert response.status_code == 201
    supplier_id = response.json()["id"]
    by_id = client.get(f"/v1/suppliers/{supplier_id}", headers=operator)
    assert by_id.status_code == 200
    assert by_id.json() == {
        "id": supplier_id,
        "inn": INN,
        "kpp": KPP,
        "name": 'ООО "УК Пример"',
        "requisites": REQUISITES,
    }
    by_inn = client.get("/v1/suppliers", params={"inn": INN}, headers=operator)
    assert by_inn.status_code == 200
    assert by_inn.json() == {"items": [by_id.json()], "next_cursor": None}


def test_auditor_reads_suppliers(client: TestClient, operator: Headers, auditor: Headers) -> None:
    supplier_id = register_supplier(client, operator)

    assert client.get(f"/v1/suppliers/{supplier_id}", headers=auditor).status_code == 200
    listed = client.get("/v1/suppliers", params={"inn": INN}, headers=auditor)
    assert [s["id"] for s in listed.json()["items"]] == [supplier_id]


def test_unknown_inn_gives_an_empty_list(client: TestClient, operator: Headers) -> None:
    register_supplier(client, operator)

    response = client.get("/v1/suppliers", params={"inn": OTHER_INN}, headers=operator)

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_looking_up_an_invalid_inn_is_invalid_inn(client: TestClient, operator: Headers) -> None:
    response = client.get("/v1/suppliers", params={"inn": "6200098765"}, headers=operator)

    problem(response, 422, "invalid_inn")


def test_unknown_supplier_id_is_404(client: TestClient, operator: Headers) -> None:
    response = client.get("/v1/suppliers/00000000-0000-0000-0000-000000000001", headers=operator)

    problem(response, 404, "unknown_supplier")


def test_supplier_id_that_is_not_a_uuid_is_a_validation_error(
    client: TestClient, operator: Headers
) -> None:
    response = client.get("/v1/suppliers/not-a-uuid", headers=operator)

    body = problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["path", "supplier_id"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"inn": "6200098765"}, "invalid_inn"),
        ({"inn": "12345"}, "invalid_inn"),
        ({"kpp": "77010100"}, "invalid_kpp"),
        ({"requisites": {**REQUISITES, "bik": "04452522"}}, "invalid_bik"),
        (
            {"requisites": {**REQUISITES, "settlement_account": "40702810138250123018"}},
            "invalid_account_key",
        ),
        (
            {"requisites": {**REQUISITES, "correspondent_account": "30101810400000000226"}},
            "invalid_account_key",
        ),
    ],
    ids=["inn-check-digit", "inn-length", "kpp", "bik", "settlement-key", "correspondent-key"],
)
def test_invalid_requisites_are_refused_and_nothing_is_registered(
    client: TestClient, operator: Headers, change: dict[str, object], code: str
) -> None:
    response = client.post("/v1/suppliers", json={**SUPPLIER, **change}, headers=keyed(operator))

    problem(response, 422, code)
    listed = client.get("/v1/suppliers", params={"inn": INN}, headers=operator)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "requisites",
    [
        {**REQUISITES, "settlement_account": "4070281013825012301\u00b2"},  # superscript two
        {**REQUISITES, "bik": "04452522\u00b2"},
        {**REQUISITES, "correspondent_account": "3010181040000000022\u0665"},  # Arabic-Indic 5
    ],
    ids=["superscript-account", "superscript-bik", "arabic-indic-digit"],
)
def test_non_ascii_digits_in_requisites_are_a_validation_error_not_a_crash(
    client: TestClient, operator: Headers, requisites: dict[str, str]
) -> None:
    body = {**SUPPLIER, "requisites": requisites}

    response = client.post("/v1/suppliers", json=body, headers=keyed(operator))

    problem(response, 422, "validation_error")


def test_requisites_are_normalised_once_at_the_edge(client: TestClient, operator: Headers) -> None:
    requisites = {**REQUISITES, "bik": " 044525225 ", "bank_name": "ПАО   СБЕРБАНК "}

    supplier_id = register_supplier(client, operator, requisites=requisites)

    stored = client.get(f"/v1/suppliers/{supplier_id}", headers=operator).json()["requisites"]
    assert stored["bik"] == "044525225"
    assert stored["bank_name"] == "ПАО СБЕРБАНК"


def test_second_supplier_with_the_same_inn_is_a_conflict(
    client: TestClient, operator: Headers
) -> None:
    supplier_id = register_supplier(client, operator)

    response = client.post(
        "/v1/suppliers", json={**SUPPLIER, "name": "Другая УК"}, headers=keyed(operator)
    )

    body = problem(response, 409, "supplier_already_registered")
    assert body["supplier_id"] == supplier_id


def test_unknown_field_is_refused(client: TestClient, operator: Headers) -> None:
    response = client.post(
        "/v1/suppliers", json={**SUPPLIER, "ogrn": "1027700132195"}, headers=keyed(operator)
    )

    body = problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "ogrn"]
    assert client.get("/v1/suppliers", params={"inn": INN}, headers=operator).json()["items"] == []


def test_missing_requisites_are_a_validation_error(client: TestClient, operator: Headers) -> None:
    body = {k: v for k, v in SUPPLIER.items() if k != "requisites"}

    response = client.post("/v1/suppliers", json=body, headers=keyed(operator))

    problem(response, 422, "validation_error")
