"""BankNotice: natural id, balanced postings, annulment by a new event."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.application import Application

from ledger.domain import BankNotice
from ledger.domain.postings import balances
from ledger.errors import NoticeStateConflictError

BIK = "044525225"
ORDER_ID = "10445252250000001503202600000001"


def accept(amount: int = 523417) -> BankNotice:
    supplier_id, account_id = uuid4(), uuid4()
    return BankNotice(
        bank_bik=BIK,
        order_id=ORDER_ID,
        order_date="2026-03-15",
        amount=amount,
        commission=3500,
        payer=None,
        supplier_id=supplier_id,
        account_id=account_id,
        bill_id=None,
        document_id=None,
        period="2026-03",
        purpose=None,
        references={"account_number": "0667000001"},
        fingerprint="f",
        postings=BankNotice.postings_for(
            bank_bik=BIK, supplier_id=supplier_id, account_id=account_id, amount=amount
        ),
    )


def test_a_notice_takes_its_id_from_the_bank_and_order_id() -> None:
    assert accept().id == BankNotice.id_for(BIK, ORDER_ID)
    assert BankNotice.id_for(BIK, ORDER_ID) != BankNotice.id_for("044525226", ORDER_ID)


def test_accepting_posts_the_principal_only_and_annulment_reverses_it() -> None:
    notice = accept()
    annulled = notice.annul(annul_date="2026-03-20")
    events = notice.collect_events()
    accepted_postings = events[0].postings  # type: ignore[attr-defined]
    assert balances(accepted_postings) == {
        f"bank:{BIK}:clearing": 523417,
        f"payable:{notice.supplier_id}:{notice.account_id}": -523417,
    }  # the 35-ruble commission is the bank's and is never posted
    assert balances(accepted_postings + annulled) == {
        f"bank:{BIK}:clearing": 0,
        f"payable:{notice.supplier_id}:{notice.account_id}": 0,
    }
    assert notice.annulled_on == "2026-03-20"


def test_a_second_annulment_is_refused() -> None:
    notice = accept()
    notice.annul(annul_date="2026-03-20")
    with pytest.raises(NoticeStateConflictError):
        notice.annul(annul_date="2026-03-21")


def test_a_notice_survives_the_event_store_round_trip() -> None:
    app: Application = Application()
    notice = accept()
    notice.annul(annul_date="2026-03-20")
    app.save(notice)
    stored = app.repository.get(notice.id)
    assert stored.view() == notice.view()
