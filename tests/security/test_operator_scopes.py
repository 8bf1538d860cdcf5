"""Finding: every operator was all-powerful. Any operator token posted notices for any БИК
(`000000000` too: money credited from a bank that does not exist), annulled any bank's notices
and read every supplier's register.

Now a bank operator's token names its БИК and a supplier operator's its ИНН; each acts only for
that bank or supplier (403 `out_of_scope`, the same whether the other's thing exists or not),
the unscoped operator stays for administration, and a posting bank must be a credit
institution's БИК whoever posts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from ledger.domain import BankNotice
from ledger.notices.line import COLUMNS
from tests.api.helpers import (
    ADDRESS,
    PUBLIC_URL,
    SECRET,
    Headers,
    World,
    bearer,
    bill_body,
    build_app,
    created,
    keyed,
    make_world,
    open_account,
    pay,
    problem,
    register_supplier,
)
from tests.fixtures import ACCOUNT_NUMBER, INN, KPP, OTHER_INN, REQUISITES

SBER = "044525225"
ALFA = "044525593"
ORDER_ID = f"1{SBER}0000001503202600000001"  # carries Sber's БИК
DAY = time.strftime("%Y-%m-%d")
UNKNOWN = "00000000-0000-0000-0000-000000000001"
KVIT = str(Path(sys.executable).with_name("kvit"))


def token(**claims: Any) -> Headers:
    """A token as any issuer would sign it: the claims are the contract."""
    signed = jwt.encode({**claims, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {signed}"}


def bank(bik: str) -> Headers:
    return token(role="bank", bik=bik)


def supplier(inn: str) -> Headers:
    return token(role="supplier", inn=inn)


@pytest.fixture
def client(tmp_path: Path, memory_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def operator() -> Headers:
    return bearer(Role.OPERATOR)


@pytest.fixture
def world(client: TestClient, operator: Headers) -> World:
    return make_world(client, operator, bearer(Role.RESIDENT, "payer-anna"))


@pytest.fixture
def other_supplier(client: TestClient, operator: Headers) -> str:
    return register_supplier(client, operator, inn=OTHER_INN, name='ООО "РСО Другая"')


def notice(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "order_id": ORDER_ID,
        "order_date": "2026-03-15",
        "amount": 100000,
        "recipient_inn": INN,
        "recipient_kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
        "account_number": ACCOUNT_NUMBER,
    }
    return body | changes


def register_line(order_id: str) -> str:
    values = {name: "" for name in COLUMNS} | {
        "order_id": order_id,
        "order_date": "15.03.2026",
        "amount": "1000,00",
        "recipient_inn": INN,
        "account_number": ACCOUNT_NUMBER,
    }
    return ";".join(values[name] for name in COLUMNS)


def register(*order_ids: str) -> bytes:
    """A whole file: every line ends in a line break (a last line without one is cut off)."""
    return "".join(
        f"{line}\n" for line in [";".join(COLUMNS), *map(register_line, order_ids)]
    ).encode()


def due(client: TestClient, operator: Headers, world: World) -> int:
    response = client.get(f"/v1/accounts/{world.account_id}", headers=operator)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"]["due"])


def same_refusal_but_ids(theirs: Any, unknown: Any) -> None:
    """Another's thing and a thing that does not exist look alike: no existence oracle."""
    problem(theirs, 403, "out_of_scope")
    problem(unknown, 403, "out_of_scope")
    a, b = theirs.json(), unknown.json()
    assert (a["title"], sorted(a)) == (b["title"], sorted(b))


# --- a bank operator acts for its own bank --------------------------------------------------------
def test_a_bank_operator_posts_and_annuls_only_its_own_banks_notices(
    client: TestClient, world: World, operator: Headers
) -> None:
    before = due(client, operator, world)
    posted = client.post("/v1/notices", json=notice(), headers=bank(SBER))
    assert posted.status_code == 201, posted.text
    sber_notice = posted.json()["notice_id"]
    assert sber_notice == str(BankNotice.id_for(SBER, ORDER_ID))
    other = notice(order_id=f"1{SBER}0000001503202600000002")

    # Alfa's operator cannot post, annul or import in Sber's name.
    refused = [
        client.post("/v1/notices", json=other, params={"bank": SBER}, headers=bank(ALFA)),
        client.post(
            "/v1/notices/annulments",
            json={"order_id": ORDER_ID, "annul_date": "2026-03-20"},
            params={"bank": SBER},
            headers=bank(ALFA),
        ),
        client.post(
            "/v1/notices/batch",
            content=register(f"1{SBER}0000001503202600000003"),
            params={"bank": SBER},
            headers={**bank(ALFA), "content-type": "text/csv"},
        ),
    ]
    for response in refused:
        body = problem(response, 403, "out_of_scope")
        assert body["bank_bik"] == ALFA

    # Nor by leaving `bank` out: its own БИК is the posting bank, never the OrderID's.
    annul = client.post(
        "/v1/notices/annulments",
        json={"order_id": ORDER_ID, "annul_date": "2026-03-20"},
        headers=bank(ALFA),
    )
    assert annul.status_code >= 400, annul.text
    sneaked = client.post("/v1/notices", json=other, headers=bank(ALFA))
    if sneaked.status_code < 400:
        assert sneaked.json()["notice_id"] == str(BankNotice.id_for(ALFA, other["order_id"]))
    assert client.get(f"/v1/notices/{sber_notice}", headers=operator).json()["status"] != (
        "annulled"
    )
    unposted = BankNotice.id_for(SBER, str(other["order_id"]))
    problem(client.get(f"/v1/notices/{unposted}", headers=operator), 404, "not_found")
    assert due(client, operator, world) == before - 100000 - (
        100000 if sneaked.status_code < 400 else 0
    )

    # Sber's operator annuls its own.
    own = client.post(
        "/v1/notices/annulments",
        json={"order_id": ORDER_ID, "annul_date": "2026-03-20"},
        headers=bank(SBER),
    )
    assert (own.status_code, own.json()["outcome"]) == (200, "annulled"), own.text


def test_a_bank_operator_reads_only_its_own_banks_notices(client: TestClient, world: World) -> None:
    posted = created(client.post("/v1/notices", json=notice(), headers=bank(SBER)))

    mine = client.get(f"/v1/notices/{posted['notice_id']}", headers=bank(SBER))
    assert mine.status_code == 200 and mine.json()["bank_bik"] == SBER, mine.text
    same_refusal_but_ids(
        client.get(f"/v1/notices/{posted['notice_id']}", headers=bank(ALFA)),
        client.get(f"/v1/notices/{UNKNOWN}", headers=bank(ALFA)),
    )


def test_a_bank_operators_import_is_all_its_own(client: TestClient, world: World) -> None:
    # A register's OrderIDs carry Sber's БИК, but Alfa's operator posts it: every line that
    # is accepted is Alfa's notice, and none is Sber's.
    response = client.post(
        "/v1/notices/batch",
        content=register(f"1{SBER}0000001503202600000009"),
        headers={**bank(ALFA), "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    mine = BankNotice.id_for(ALFA, f"1{SBER}0000001503202600000009")
    theirs = BankNotice.id_for(SBER, f"1{SBER}0000001503202600000009")
    if response.json()["accepted"]:
        assert client.get(f"/v1/notices/{mine}", headers=bank(ALFA)).status_code == 200
    problem(client.get(f"/v1/notices/{theirs}", headers=bearer(Role.OPERATOR)), 404, "not_found")


# --- a supplier operator acts for its own supplier ------------------------------------------------
def test_a_supplier_operator_runs_its_own_supplier(
    client: TestClient, world: World, operator: Headers
) -> None:
    mine = supplier(INN)

    account_id = open_account(client, mine, world.supplier_id, number="0667000002")
    bill = client.post(
        f"/v1/accounts/{account_id}/bills",
        json=bill_body("70АА000560-01-6104"),
        headers=keyed(mine),
    )
    assert bill.status_code == 201, bill.text
    confirmed = client.post(
        f"/v1/accounts/{world.account_id}/payers",
        json={"payer_id": "payer-boris"},
        headers=keyed(mine),
    )
    assert confirmed.status_code == 200, confirmed.text
    reads = [
        f"/v1/suppliers/{world.supplier_id}",
        f"/v1/suppliers?inn={INN}",
        f"/v1/suppliers/{world.supplier_id}/register?date={DAY}",
        f"/v1/accounts/{account_id}",
        f"/v1/accounts/{world.account_id}/payments",
        f"/v1/accounts/{world.account_id}/bills/{world.bill_id}",
    ]
    for path in reads:
        response = client.get(path, headers=mine)
        assert response.status_code == 200, (path, response.text)


def out_of_scope_requests(world: World, payment_id: str) -> list[tuple[str, str, Any]]:
    """(method, path, body) a supplier operator of another supplier may not make."""
    new_account = {"supplier_id": world.supplier_id, "account_number": "1", "address": ADDRESS}
    return [
        ("POST", "/v1/accounts", new_account),
        ("POST", f"/v1/accounts/{world.account_id}/bills", bill_body("70АА000560-01-6105")),
        ("POST", f"/v1/accounts/{world.account_id}/payers", {"payer_id": "payer-boris"}),
        ("GET", f"/v1/accounts/{world.account_id}", None),
        ("GET", f"/v1/accounts/{world.account_id}/payments", None),
        ("GET", f"/v1/accounts/{world.account_id}/bills/{world.bill_id}", None),
        ("GET", f"/v1/suppliers/{world.supplier_id}", None),
        ("GET", f"/v1/suppliers?inn={INN}", None),
        ("GET", f"/v1/suppliers/{world.supplier_id}/register?date={DAY}", None),
        ("GET", f"/v1/payments/{payment_id}", None),
    ]


def test_a_supplier_operator_cannot_touch_another_suppliers_things(
    client: TestClient, world: World, operator: Headers, other_supplier: str
) -> None:
    payment_id = pay(client, bearer(Role.RESIDENT, "payer-anna"), world, method="card")["id"]
    stranger = supplier(OTHER_INN)
    nowhere = World(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)
    pairs = zip(
        out_of_scope_requests(world, payment_id),
        out_of_scope_requests(nowhere, UNKNOWN),
        strict=True,
    )

    for (method, path, body), (_, unknown_path, unknown_body) in pairs:
        if method == "GET":
            theirs = client.get(path, headers=stranger)
            unknown = client.get(unknown_path, headers=stranger)
        else:
            theirs = client.post(path, json=body, headers=keyed(stranger))
            unknown = client.post(unknown_path, json=unknown_body, headers=keyed(stranger))
        same_refusal_but_ids(theirs, unknown)
        assert theirs.json()["supplier_inn"] == OTHER_INN

    account = client.get(f"/v1/accounts/{world.account_id}", headers=operator).json()
    assert [b["document_id"] for b in account["bills"]] == ["70АА000560-01-6103"]
    problem(client.get(f"/v1/accounts/{UNKNOWN}", headers=operator), 404, "not_found")


def test_supplier_operators_keys_do_not_meet(
    client: TestClient, world: World, other_supplier: str
) -> None:
    # The same Idempotency-Key from two suppliers (and the administrator) is three requests:
    # one scope would replay another's result or refuse the key as reused.
    key = "account-1"
    ids = []
    for headers, supplier_id, number in [
        (supplier(INN), world.supplier_id, "5"),
        (supplier(OTHER_INN), other_supplier, "5"),
        (bearer(Role.OPERATOR), other_supplier, "7"),
    ]:
        body = {"supplier_id": supplier_id, "account_number": number, "address": ADDRESS}
        response = client.post("/v1/accounts", json=body, headers=keyed(headers, key))
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        ids.append(response.json()["id"])
    assert len(set(ids)) == 3


# --- each scoped role keeps to its own kind of work -----------------------------------------------
def test_a_scoped_operator_keeps_to_its_own_role(
    client: TestClient, world: World, other_supplier: str
) -> None:
    as_bank = [
        ("POST", "/v1/accounts", {"supplier_id": world.supplier_id, "account_number": "2",
                                  "address": ADDRESS}),
        ("POST", f"/v1/accounts/{world.account_id}/bills", bill_body("70АА000560-01-6106")),
        ("GET", f"/v1/accounts/{world.account_id}", None),
        ("GET", f"/v1/suppliers/{world.supplier_id}/register?date={DAY}", None),
        ("GET", f"/v1/suppliers?inn={INN}", None),
    ]  # fmt: skip
    as_supplier = [
        ("POST", "/v1/notices", notice()),
        ("POST", "/v1/notices/annulments", {"order_id": ORDER_ID, "annul_date": "2026-03-20"}),
    ]
    as_either = [
        ("POST", "/v1/suppliers", {"inn": "500100732259", "kpp": KPP, "name": "ТСЖ",
                                   "requisites": REQUISITES}),
        ("GET", "/v1/audit/events", None),
        ("GET", "/v1/audit/ledger-accounts/acquirer:clearing", None),
    ]  # fmt: skip
    cases = [(bank(SBER), r) for r in as_bank + as_either]
    cases += [(supplier(INN), r) for r in as_supplier + as_either]
    for headers, (method, path, body) in cases:
        if method == "GET":
            response = client.get(path, headers=headers)
        else:
            response = client.post(path, json=body, headers=keyed(headers))
        problem(response, 403, "forbidden")


# --- the unscoped operator still administers everything -----------------------------------------
def test_the_unscoped_operator_still_acts_for_every_bank_and_supplier(
    client: TestClient, world: World, operator: Headers, other_supplier: str
) -> None:
    sber = created(client.post("/v1/notices", json=notice(), headers=bank(SBER)))
    alfa_order = f"1{ALFA}0000001503202600000001"
    alfa = created(client.post("/v1/notices", json=notice(order_id=alfa_order), headers=operator))
    assert alfa["notice_id"] == str(BankNotice.id_for(ALFA, alfa_order))

    for notice_id in (sber["notice_id"], alfa["notice_id"]):
        assert client.get(f"/v1/notices/{notice_id}", headers=operator).status_code == 200
    annulled = client.post(
        "/v1/notices/annulments",
        json={"order_id": ORDER_ID, "annul_date": "2026-03-20"},
        params={"bank": SBER},
        headers=operator,
    )
    assert annulled.json()["outcome"] == "annulled", annulled.text
    open_account(client, operator, other_supplier, number="9")
    for supplier_id in (world.supplier_id, other_supplier):
        path = f"/v1/suppliers/{supplier_id}/register?date={DAY}"
        assert client.get(path, headers=operator).status_code == 200


@pytest.mark.parametrize(
    "posting",
    [
        {"params": {"bank": "000000000"}},
        {"params": {"bank": "123456789"}},  # not a Russian bank (04…)
        {"params": {"bank": "044525000"}},  # a Bank of Russia division, not a credit institution
        {"order_id": f"1000000000{0:022d}"},  # the OrderID carries 000000000
    ],
    ids=["zeros", "not-04", "bank-of-russia", "order-id-zeros"],
)
def test_a_posting_bank_must_be_a_credit_institution(
    client: TestClient, world: World, operator: Headers, posting: dict[str, Any]
) -> None:
    before = due(client, operator, world)
    body = notice(order_id=posting.get("order_id", ORDER_ID))

    response = client.post("/v1/notices", json=body, params=posting.get("params"), headers=operator)

    problem(response, 422, "invalid_bik")
    assert due(client, operator, world) == before


def test_a_register_line_from_a_bank_that_does_not_exist_is_rejected(
    client: TestClient, world: World, operator: Headers
) -> None:
    response = client.post(
        "/v1/notices/batch",
        content=register(f"1000000000{1:022d}", f"1{SBER}{1:022d}"),
        headers={**operator, "content-type": "text/csv"},
    )

    summary = response.json()
    assert (summary["accepted"], summary["rejected"]) == (1, 1), summary
    assert summary["rejects"][0]["code"] == "invalid_bik"


# --- tokens: scoped ones name a well-formed БИК or ИНН, minted or presented -----------------------
@pytest.mark.parametrize(
    ("claims", "names"),
    [
        ({"role": "bank"}, "БИК"),
        ({"role": "bank", "bik": "000000000"}, "БИК"),
        ({"role": "bank", "bik": "04452522A"}, "БИК"),
        ({"role": "bank", "bik": 44525225}, "БИК"),
        ({"role": "supplier"}, "ИНН"),
        ({"role": "supplier", "inn": "6200098765"}, "ИНН"),  # fails its check digit
        ({"role": "bank", "bik": SBER, "inn": INN}, "ИНН"),
        ({"role": "operator", "bik": SBER}, "БИК"),  # would look scoped and be all-powerful
        ({"role": "operator", "inn": INN}, "ИНН"),
    ],
    ids=[
        "bank-without-bik",
        "bik-zeros",
        "bik-letter",
        "bik-number",
        "supplier-without-inn",
        "inn-check-digit",
        "bank-with-inn",
        "operator-with-bik",
        "operator-with-inn",
    ],
)
def test_a_token_with_a_malformed_scope_is_refused_when_presented(
    client: TestClient, claims: dict[str, Any], names: str
) -> None:
    response = client.get(f"/v1/suppliers?inn={INN}", headers=token(**claims))

    body = problem(response, 401, "unauthorized")
    assert names in body["detail"], body


def kvit_token(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env |= {"KVIT_DATA_DIR": str(tmp_path / "var"), "KVIT_SECRET_KEY": SECRET}
    return subprocess.run(
        [KVIT, "token", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--role", "bank", "--bik", "000000000"), "БИК"),
        (("--role", "bank", "--bik", "04452522A"), "БИК"),
        (("--role", "bank"), "--bik"),
        (("--role", "supplier", "--inn", "6200098765"), "ИНН"),
        (("--role", "supplier"), "--inn"),
        (("--role", "operator", "--bik", SBER), "--bik"),
        (("--role", "bank", "--bik", SBER, "--inn", INN), "--inn"),
    ],
    ids=[
        "bik-zeros",
        "bik-letter",
        "bank-without-bik",
        "inn-check-digit",
        "supplier-without-inn",
        "operator-with-bik",
        "bank-with-inn",
    ],
)
def test_kvit_token_refuses_a_malformed_scope_in_one_line(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    done = kvit_token(tmp_path, *args)

    assert done.returncode != 0 and done.stdout == "", done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert needle in lines[0], lines[0]


def test_kvit_token_mints_scoped_tokens(tmp_path: Path) -> None:
    for args, claims in [
        (("--role", "bank", "--bik", f" {SBER} "), {"role": "bank", "bik": SBER}),
        (("--role", "supplier", "--inn", INN), {"role": "supplier", "inn": INN}),
    ]:
        done = kvit_token(tmp_path, *args)
        assert done.returncode == 0, done.stderr
        decoded = jwt.decode(done.stdout.strip(), SECRET, algorithms=["HS256"])
        assert {k: decoded[k] for k in claims} == claims
        assert "sub" not in decoded
