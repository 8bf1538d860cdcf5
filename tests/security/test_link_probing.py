"""Probing personal accounts through linking (issue 16, items 1–3).

An attacker signed in as a resident wants someone else's account in full (address, ЕЛС, bills):
- what an unproven link shows must never prove possession (the `due` it shows is a bill total
  whenever one unpaid bill is all that is due, the normal monthly state);
- every way to ask "does this account exist, what does it owe, is this its ИПД" (a link, a
  QR code resolved, a bill's QR code asked for by ИПД) counts toward one limit per payer, and
  toward a cap per account across payers;
- the count holds on PostgreSQL with several workers answering at once (tests below marked
  `postgres`: two app instances on one schema).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.auth import Role
from api.cli.server import migrate_all
from api.link_attempts import LinkAttempts, migrate
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from storage.sql import Store
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    api_settings,
    bearer,
    build_app,
    created,
    issue_bill,
    keyed,
    open_account,
    problem,
    register_supplier,
)
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, REQUISITES, setup_world

OPERATOR = bearer(Role.OPERATOR)
MALLORY = bearer(Role.RESIDENT, "payer-mallory")
ANNA = bearer(Role.RESIDENT, "payer-anna")
OTHER_NUMBER = "0667000002"
OTHER_DOCUMENT_ID = "70АА000561-01-6103"


@contextmanager
def running(tmp_path: Path, ledger: Ledger, **settings: Any) -> Iterator[TestClient]:
    """An app with a supplier and two accounts, each with one unpaid bill (the monthly state)."""
    app = build_app(tmp_path, ledger, **settings)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        supplier_id = register_supplier(client, OPERATOR)
        issue_bill(client, OPERATOR, open_account(client, OPERATOR, supplier_id))
        other = open_account(client, OPERATOR, supplier_id, number=OTHER_NUMBER)
        issue_bill(client, OPERATOR, other, document_id=OTHER_DOCUMENT_ID)
        yield client


def link(client: TestClient, who: Headers, number: str = ACCOUNT_NUMBER, **proof: Any) -> Any:
    body: dict[str, Any] = {"supplier_inn": INN, "account_number": number}
    if proof:
        body["proof"] = proof
    return client.post("/v1/me/accounts", json=body, headers=keyed(who))


def qr_payload(number: str | None = ACCOUNT_NUMBER, document_id: str | None = None) -> str:
    keys = [
        "ST00012",
        'Name=ООО "УК Пример"',
        f"PersonalAcc={REQUISITES['settlement_account']}",
        f"BankName={REQUISITES['bank_name']}",
        f"BIC={REQUISITES['bik']}",
        f"CorrespAcc={REQUISITES['correspondent_account']}",
        f"PayeeINN={INN}",
    ]
    if number is not None:
        keys.append(f"PersAcc={number}")
    if document_id is not None:
        keys.append(f"Purpose=Оплата ЖКУ, ИПД {document_id}")
    return "|".join(keys)


def resolve(client: TestClient, who: Headers, payload: str) -> Any:
    return client.post("/v1/qr:resolve", json={"qr_payload": payload}, headers=who)


def accesses(client: TestClient, who: Headers) -> list[str]:
    return [a["access"] for a in client.get("/v1/me/accounts", headers=who).json()["items"]]


# --- item 1: what the unproven view shows is no proof ---------------------------------------------
def test_the_due_an_unproven_link_shows_does_not_prove_possession(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger) as client:
        shown = created(link(client, MALLORY))
        assert shown["access"] == "limited" and shown["balance"]["due"] == BILL_TOTAL

        replayed = link(client, MALLORY, bill_total=shown["balance"]["due"])

        assert problem(replayed, 422, "validation_error")
        assert "ИПД" in replayed.text  # says what does prove it
        assert accesses(client, MALLORY) == ["limited"]
        seen = client.get(f"/v1/accounts/{shown['id']}", headers=MALLORY).json()
        assert seen["els"] is None and seen["bills"] == []


def test_the_ipd_printed_on_the_bill_proves_possession_without_using_up_attempts(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=2) as client:
        for _ in range(5):
            assert created(link(client, ANNA, document_id=DOCUMENT_ID))["access"] == "full"
        assert created(link(client, ANNA, OTHER_NUMBER))["access"] == "limited"


def test_successful_unproven_links_count_toward_the_limit(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=3) as client:
        created(link(client, MALLORY))
        created(link(client, MALLORY, OTHER_NUMBER))
        problem(link(client, MALLORY, "0667000003"), 404, "unknown_account")

        # Each of them told whether an account exists and what it owes: the fourth is refused.
        for refused in (link(client, MALLORY), link(client, MALLORY, document_id=DOCUMENT_ID)):
            problem(refused, 429, "link_attempts_exceeded")
            assert int(refused.headers["retry-after"]) > 0


# --- item 2: qr:resolve and the bill's QR code are metered with the same limit --------------------
def test_qr_resolve_tells_a_refused_payer_nothing(tmp_path: Path, memory_ledger: Ledger) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=2) as client:
        for number in ("0000000001", "0000000002"):
            problem(link(client, MALLORY, number), 404, "unknown_account")

        for number in (ACCOUNT_NUMBER, "0000000003"):  # existing or not, owing or not: alike
            refused = resolve(client, MALLORY, qr_payload(number))
            problem(refused, 429, "link_attempts_exceeded")
            assert int(refused.headers["retry-after"]) > 0


def test_qr_resolve_probes_count_toward_the_link_limit(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=3) as client:
        assert resolve(client, MALLORY, qr_payload()).json()["due"] == BILL_TOTAL
        problem(resolve(client, MALLORY, qr_payload("0000000001")), 404, "unknown_account")
        wrong_bill = qr_payload(None, "70АА000560-01-0000")
        problem(resolve(client, MALLORY, wrong_bill), 404, "unknown_bill")

        problem(link(client, MALLORY), 429, "link_attempts_exceeded")
        # An operator is not a prober: the limit is the payer's.
        assert resolve(client, OPERATOR, qr_payload()).status_code == 200


def test_a_scanned_bill_that_names_its_ipd_uses_up_no_attempts(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=1) as client:
        for _ in range(4):
            payee = resolve(client, ANNA, qr_payload(document_id=DOCUMENT_ID)).json()
            assert (payee["document_id"], payee["due"]) == (DOCUMENT_ID, BILL_TOTAL)
        assert created(link(client, ANNA))["access"] == "limited"


def test_guessing_ipds_through_the_bill_qr_code_is_limited(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=3) as client:
        for guess in ("70АА000560-01-0001", "70АА000560-01-0002", "70АА000560-01-0003"):
            problem(client.get(f"/v1/bills/{guess}/qr", headers=MALLORY), 404, "unknown_bill")

        # Found at last, but too late: the guess is not answered, nor can it prove a link.
        right = client.get(f"/v1/bills/{DOCUMENT_ID}/qr", headers=MALLORY)
        problem(right, 429, "link_attempts_exceeded")
        problem(link(client, MALLORY, document_id=DOCUMENT_ID), 429, "link_attempts_exceeded")


def test_a_resident_who_used_up_the_limit_still_sees_their_own_bills_codes(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=1) as client:
        assert created(link(client, ANNA, document_id=DOCUMENT_ID))["access"] == "full"
        problem(link(client, ANNA, "0000000001"), 404, "unknown_account")
        assert accesses(client, ANNA) == ["full"]  # the cabinet shows the bills first

        for _ in range(3):
            own = client.get(f"/v1/bills/{DOCUMENT_ID}/qr?format=text", headers=ANNA)
            assert own.status_code == 200 and DOCUMENT_ID in own.text
        problem(client.get(f"/v1/bills/{OTHER_DOCUMENT_ID}/qr", headers=ANNA), 429,
                "link_attempts_exceeded")  # fmt: skip


# --- item 3: a cap per account across payers ------------------------------------------------------
def test_attempts_against_one_account_are_capped_across_payers(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    settings = {"link_attempts_limit": 10, "link_attempts_account_limit": 3}
    with running(tmp_path, memory_ledger, **settings) as client:
        for n in range(3):  # three identities, one guess each: each far below its own limit
            guesser = bearer(Role.RESIDENT, f"payer-sybil-{n}")
            problem(link(client, guesser, document_id=f"70АА000560-01-000{n}"), 422,
                    "link_proof_mismatch")  # fmt: skip

        fourth = bearer(Role.RESIDENT, "payer-sybil-3")
        problem(link(client, fourth, document_id=DOCUMENT_ID), 429, "link_attempts_exceeded")
        problem(resolve(client, fourth, qr_payload()), 429, "link_attempts_exceeded")
        # The cap is the account's: the same payer may still link another one.
        assert created(link(client, fourth, OTHER_NUMBER))["access"] == "limited"


# --- item 3: the count holds with two workers on PostgreSQL ---------------------------------------
@pytest.fixture
def pg_api_settings(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings of API workers sharing a fresh PostgreSQL schema, dropped afterwards."""
    postgres_or_fail()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    values = {"database_url": TEST_DATABASE_URL, "database_schema": schema}
    migrate_all(api_settings(tmp_path, **values))
    yield values
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def workers(tmp_path: Path, count: int, **settings: Any) -> Iterator[list[TestClient]]:
    """`count` app instances, each with its own ledger and connections, on one schema that
    holds a supplier and an account with one unpaid bill (set up through the ledger: no
    projector runs here, so API writes would wait for the read models)."""
    ledger = build_ledger(api_settings(tmp_path, **settings))
    setup_world(ledger, payer_id="payer-anna")
    ledger.close()
    with ExitStack() as stack:
        clients = []
        for n in range(count):
            ledger = build_ledger(api_settings(tmp_path / f"w{n}", **settings))
            stack.callback(ledger.close)
            app = build_app(tmp_path / f"w{n}", ledger, **settings)
            clients.append(stack.enter_context(TestClient(app, base_url=PUBLIC_URL)))
        yield clients


def hammer(clients: list[TestClient], attempts: list[tuple[Headers, dict[str, Any]]]) -> Counter:
    """Send every attempt at once, spread over the workers from 8 threads; count the answers."""
    answers: Counter[int] = Counter()
    lock, start = threading.Lock(), threading.Barrier(8)

    def send(thread: int) -> None:
        start.wait()
        for i in range(thread, len(attempts), 8):
            who, body = attempts[i]
            client = clients[i % len(clients)]
            status = client.post("/v1/me/accounts", json=body, headers=keyed(who)).status_code
            with lock:
                answers[status] += 1

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(answers.values()) == len(attempts), answers
    return answers


@pytest.mark.postgres
def test_concurrent_attempts_on_two_workers_never_exceed_the_payers_limit(
    tmp_path: Path, pg_api_settings: dict[str, Any]
) -> None:
    settings = {**pg_api_settings, "link_attempts_limit": 10}
    with workers(tmp_path, 2, **settings) as clients:
        unknown = [
            (MALLORY, {"supplier_inn": INN, "account_number": f"99{n:08d}"}) for n in range(48)
        ]

        answers = hammer(clients, unknown)

    assert answers[404] == 10, answers  # answered: exactly the limit, never more
    assert answers[429] == 38, answers


@pytest.mark.postgres
def test_concurrent_attempts_from_many_payers_never_exceed_the_accounts_cap(
    tmp_path: Path, pg_api_settings: dict[str, Any]
) -> None:
    settings = {**pg_api_settings, "link_attempts_limit": 3, "link_attempts_account_limit": 12}
    with workers(tmp_path, 2, **settings) as clients:
        guesses = [
            (
                bearer(Role.RESIDENT, f"payer-sybil-{n % 16}"),
                {
                    "supplier_inn": INN,
                    "account_number": ACCOUNT_NUMBER,
                    "proof": {"document_id": f"70АА000560-01-{n:04d}"},
                },
            )
            for n in range(48)  # 16 payers, 3 guesses each: within every payer's own limit
        ]

        answers = hammer(clients, guesses)

    assert answers[422] == 12, answers  # answered against the account: its cap, never more
    assert answers[429] == 36, answers


def test_a_probe_given_back_after_its_window_has_passed_frees_nothing(tmp_path: Path) -> None:
    store = Store("sqlite", str(tmp_path / "read.db"), None)
    migrate(store)
    attempts = LinkAttempts(store, limit=1, window_seconds=60, account_limit=5)
    try:
        held = attempts.count("payer-mallory", None, now=1000.0)  # proves possession, later
        assert attempts.count("payer-mallory", None, now=1061.0).retry_after == 0  # new window

        attempts.give_back(held)  # counted in the old window: the new one keeps its count

        assert attempts.count("payer-mallory", None, now=1062.0).retry_after == 60
    finally:
        store.close()
