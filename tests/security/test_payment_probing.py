"""Probing personal accounts through payments (follow-up to issue 16, item 2).

`POST /v1/payments` names an account the way a link does (the supplier's requisites or ИНН with
the account number; its id, which is derived from those; a scanned code), and answers whether
it exists (404 `unknown_account`) and what it owes (the amount of a payment created without
one). Answers cannot be made alike: a payment to an account that does not exist must be
refused. So a payment that names someone else's account is a probe and counts toward the same
limits as a link or a QR look-up; paying one's own linked account, or a bill whose ИПД is in
hand, is not and uses up nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from ledger.domain import PersonalAccount
from ledger.registry.commands import LinkPayer
from tests.api.helpers import Headers, bearer, created, keyed, problem
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, KPP, REQUISITES
from tests.security.test_link_probing import (
    ANNA,
    MALLORY,
    OTHER_NUMBER,
    link,
    qr_payload,
    running,
)

UNKNOWN = "0667000009"


def pay(client: TestClient, who: Headers, **payee: Any) -> httpx.Response:
    """A card payment, not confirmed: it moves no money, and tells what it would pay."""
    body = {"method": "card", **payee}
    return client.post("/v1/payments", json=body, headers=keyed(who))


def by_requisites(number: str) -> dict[str, Any]:
    """As printed on any receipt: the supplier's requisites and the account number."""
    recipient = {
        "inn": INN,
        "kpp": KPP,
        "bik": REQUISITES["bik"],
        "settlement_account": REQUISITES["settlement_account"],
    }
    return {"recipient": recipient, "account_number": number}


def by_inn(number: str) -> dict[str, Any]:
    return {"supplier_inn": INN, "account_number": number}


def by_id(number: str) -> dict[str, Any]:
    """An account's id is derived from the supplier's ИНН and the number: anyone can make it."""
    return {"account_id": str(PersonalAccount.id_for(INN, number))}


def test_paying_by_requisites_tells_a_refused_payer_nothing(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=2) as client:
        for number in ("0000000001", "0000000002"):
            problem(link(client, MALLORY, number), 404, "unknown_account")

        for payee in (by_requisites, by_inn, by_id):
            for number in (ACCOUNT_NUMBER, UNKNOWN):  # existing or not, owing or not: alike
                refused = pay(client, MALLORY, **payee(number))
                problem(refused, 429, "link_attempts_exceeded")
                assert int(refused.headers["retry-after"]) > 0
        problem(pay(client, MALLORY, qr_payload=qr_payload()), 429, "link_attempts_exceeded")


def test_payments_naming_others_accounts_count_toward_the_link_limit(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=4) as client:
        assert (
            created(pay(client, MALLORY, **by_requisites(ACCOUNT_NUMBER)))["amount"] == BILL_TOTAL
        )
        problem(pay(client, MALLORY, **by_inn(UNKNOWN)), 404, "unknown_account")
        problem(pay(client, MALLORY, **by_id(UNKNOWN)), 404, "unknown_account")
        problem(pay(client, MALLORY, qr_payload=qr_payload(UNKNOWN)), 404, "unknown_account")

        problem(link(client, MALLORY), 429, "link_attempts_exceeded")


def test_paying_ones_own_linked_accounts_uses_up_nothing(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=2) as client:
        assert created(link(client, ANNA, document_id=DOCUMENT_ID))["access"] == "full"
        assert created(link(client, ANNA, OTHER_NUMBER))["access"] == "limited"  # counted
        problem(link(client, ANNA, UNKNOWN), 404, "unknown_account")  # the limit is used up

        for payee in (by_requisites, by_inn, by_id):
            for number in (ACCOUNT_NUMBER, OTHER_NUMBER):  # proven or not: both are hers
                assert created(pay(client, ANNA, **payee(number)))["amount"] == BILL_TOTAL
        problem(pay(client, ANNA, **by_inn(UNKNOWN)), 429, "link_attempts_exceeded")


def test_an_account_linked_through_another_worker_is_paid_without_using_up_attempts(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    """This worker never saw the link (another worker wrote it, just now): the account's own
    state says it is hers, and from then on the worker knows it without a read."""
    with running(tmp_path, memory_ledger, link_attempts_limit=1) as client:
        memory_ledger.execute(
            LinkPayer.parse(payer_id="payer-anna", supplier_inn=INN, account_number=ACCOUNT_NUMBER)
        )
        known = client.app.state.services.started().read_models.links  # type: ignore[attr-defined]
        assert not known.known("payer-anna", by_id(ACCOUNT_NUMBER)["account_id"])

        for payee in (by_requisites, by_inn, by_id, by_id):
            assert created(pay(client, ANNA, **payee(ACCOUNT_NUMBER)))["amount"] == BILL_TOTAL

        assert known.known("payer-anna", by_id(ACCOUNT_NUMBER)["account_id"])
        assert created(link(client, ANNA, OTHER_NUMBER))["access"] == "limited"  # the one left
        problem(pay(client, ANNA, **by_inn(UNKNOWN)), 429, "link_attempts_exceeded")


def test_a_bill_in_hand_pays_without_using_up_attempts(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=1) as client:
        for _ in range(3):
            scanned = created(pay(client, MALLORY, qr_payload=qr_payload(document_id=DOCUMENT_ID)))
            assert scanned["document_id"] == DOCUMENT_ID
            typed = created(pay(client, MALLORY, **by_inn(ACCOUNT_NUMBER), document_id=DOCUMENT_ID))
            assert typed["amount"] == BILL_TOTAL
        assert created(link(client, MALLORY))["access"] == "limited"  # the one attempt is left


def test_payments_against_one_account_are_capped_across_payers(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    settings = {"link_attempts_limit": 10, "link_attempts_account_limit": 3}
    with running(tmp_path, memory_ledger, **settings) as client:
        # Three identities, one way each: the account's id counts as its ИНН and number do.
        for n, payee in enumerate((by_requisites, by_inn, by_id)):
            created(pay(client, bearer(Role.RESIDENT, f"payer-sybil-{n}"), **payee(ACCOUNT_NUMBER)))

        fourth = bearer(Role.RESIDENT, "payer-sybil-3")
        problem(pay(client, fourth, **by_id(ACCOUNT_NUMBER)), 429, "link_attempts_exceeded")
        problem(link(client, fourth), 429, "link_attempts_exceeded")
        assert created(pay(client, fourth, **by_id(OTHER_NUMBER)))["amount"] == BILL_TOTAL


def test_malformed_or_ambiguous_payments_are_refused_before_they_are_counted(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with running(tmp_path, memory_ledger, link_attempts_limit=1) as client:
        for _ in range(3):
            bad_inn = {"supplier_inn": "7701234561", "account_number": ACCOUNT_NUMBER}
            problem(pay(client, MALLORY, **bad_inn), 422, "invalid_inn")
            both = {**by_inn(ACCOUNT_NUMBER), "qr_payload": qr_payload()}
            problem(pay(client, MALLORY, **both), 422, "ambiguous_payee")
        assert created(link(client, MALLORY))["access"] == "limited"
