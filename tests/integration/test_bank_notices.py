"""Bank notices on every backend: resolved, posted once, duplicates and conflicts told apart."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.domain import BankNotice
from ledger.domain.postings import balances
from ledger.errors import (
    NoticeConflictError,
    NoticeStateConflictError,
    RequisitesMismatchError,
    UnknownAccountError,
    UnknownNoticeError,
)
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.handlers import bank_of
from ledger.notices.line import NoticeLine
from tests.fixtures import (
    ACCOUNT_NUMBER,
    BILL_TOTAL,
    DOCUMENT_ID,
    INN,
    KPP,
    REQUISITES,
    setup_world,
)

BANK = "044525225"
ORDER_ID = "10445252250000001503202600000001"


def notice(**changes: object) -> NoticeLine:
    line = NoticeLine(
        line_no=1,
        order_id=ORDER_ID,
        order_date=date(2026, 3, 15),
        action="",
        amount=100000,
        commission=3500,
        recipient_inn=INN,
        recipient_kpp=KPP,
        bik=REQUISITES["bik"],
        settlement_account=REQUISITES["settlement_account"],
        account_number=ACCOUNT_NUMBER,
    )
    return replace(line, **changes)  # type: ignore[arg-type]


def receive(ledger: Ledger, line: NoticeLine) -> dict[str, object]:
    return ledger.execute(ReceiveNotice(bank_bik=BANK, line=line)).result


def test_the_posting_bank_is_read_from_the_order_id() -> None:
    assert bank_of(ORDER_ID) == BANK
    assert bank_of("X" * 32) is None


def test_a_notice_pays_the_account_and_posts_only_the_principal(ledger: Ledger) -> None:
    world = setup_world(ledger)
    result = receive(ledger, notice())
    assert result["outcome"] == "accepted"
    assert ledger.get_account(world.account_id).paid == 100000
    stored = ledger.repository.get(UUID(str(result["notice_id"])))
    assert isinstance(stored, BankNotice) and stored.commission == 3500
    postings = [p for e in ledger.events.get(stored.id) for p in getattr(e, "postings", [])]
    assert balances(postings) == {
        f"bank:{BANK}:clearing": 100000,
        f"payable:{world.supplier_id}:{world.account_id}": -100000,
    }


def test_a_resent_notice_is_a_duplicate_and_changes_nothing(ledger: Ledger) -> None:
    world = setup_world(ledger)
    receive(ledger, notice())
    again = receive(ledger, notice(line_no=7))  # another file, another line: same notice
    assert again["outcome"] == "duplicate"
    assert ledger.get_account(world.account_id).paid == 100000


def test_the_same_order_id_with_other_content_is_a_conflict(ledger: Ledger) -> None:
    world = setup_world(ledger)
    receive(ledger, notice())
    with pytest.raises(NoticeConflictError):
        receive(ledger, notice(amount=100001))
    assert ledger.get_account(world.account_id).paid == 100000


def test_a_notice_naming_the_bill_pays_that_bill(ledger: Ledger) -> None:
    world = setup_world(ledger)
    receive(ledger, notice(document_id=DOCUMENT_ID, account_number=None, amount=BILL_TOTAL))
    assert ledger.get_account(world.account_id).due(world.bill_id) == 0


def test_a_notice_by_els_alone_finds_the_account(ledger: Ledger) -> None:
    world = setup_world(ledger)
    result = receive(ledger, notice(account_number=None, els="70АА000560"))
    assert result["account_id"] == str(world.account_id)


def test_old_requisites_are_refused(ledger: Ledger) -> None:
    world = setup_world(ledger)
    old = "40702810838250123016"  # a valid key for the БИК, but not the supplier's account
    with pytest.raises(RequisitesMismatchError) as caught:
        receive(ledger, notice(settlement_account=old))
    assert caught.value.data["fields"] == ["settlement_account"]
    assert ledger.get_account(world.account_id).paid == 0


def test_an_unknown_account_is_refused(ledger: Ledger) -> None:
    setup_world(ledger)
    with pytest.raises(UnknownAccountError):
        receive(ledger, notice(account_number="9999"))


def test_an_annulment_reverses_the_notice_once(ledger: Ledger) -> None:
    world = setup_world(ledger)
    receive(ledger, notice())
    annul = AnnulNotice(bank_bik=BANK, order_id=ORDER_ID, annul_date="2026-03-20")
    assert ledger.execute(annul).result["outcome"] == "annulled"
    assert ledger.execute(annul).result["outcome"] == "duplicate"
    assert ledger.get_account(world.account_id).paid == 0
    with pytest.raises(NoticeStateConflictError):
        ledger.execute(replace(annul, annul_date="2026-03-21"))
    with pytest.raises(UnknownNoticeError):
        ledger.execute(replace(annul, order_id=f"1{BANK}" + "9" * 22))


def test_notices_and_annulments_reach_balances_and_the_trial_balance(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ledger.bootstrap import build_ledger, migrate
    from ledger.settings import Settings
    from projections import queries
    from projections.read_models import ReadModels

    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    rm = ReadModels(settings, ledger).start()
    try:
        world = setup_world(ledger)
        receive(ledger, notice(amount=200000))
        second = notice(order_id=ORDER_ID[:-1] + "2", amount=50000)
        receive(ledger, second)
        ledger.execute(
            AnnulNotice(bank_bik=BANK, order_id=second.order_id, annul_date="2026-03-20")
        )
        end = ledger.recorder.max_notification_id()
        account = queries.account_balance(rm, world.account_id, min_position=end)
        assert account is not None
        assert (account.paid, account.refunded, account.due) == (250000, 50000, 523417 - 200000)
        trial = queries.trial_balance(rm, min_position=end)
        assert trial.total == 0
        assert trial.totals["bank"] == 200000
    finally:
        rm.close()
        ledger.close()
