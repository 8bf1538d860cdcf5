"""A register decided in bulk stores, byte for byte, what its lines store run one by one through
their handlers and the library's mapper: the bulk import encodes a line's events straight from
its fields (storage/encode.py), and the audit chain hashes those bytes, so they may never
differ. The clock is fixed for both runs, so the timestamps are the same too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.application import HANDLERS, Ledger
from ledger.bootstrap import build_ledger
from ledger.engine.batch import run_batch
from ledger.engine.persistence import in_memory_env
from ledger.notices import bulk
from ledger.notices.bulk import run_notice_batch
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.settings import Settings
from storage.log import iter_stored
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES, setup_world

BANK = "044525225"
FIXED = datetime(2026, 3, 16, 9, 30, 15, 123456, tzinfo=UTC)


def order(n: int) -> str:
    return f"1{BANK}{n:022d}"


def register() -> list[Any]:
    """Every kind of line: by account number, by ИПД, by ЕЛС, with every optional field and
    text that JSON escapes; an OrderID twice (a duplicate), one annulled later in the batch."""
    base = NoticeLine(
        line_no=1,
        order_id=order(1),
        order_date=date(2026, 3, 15),
        action="",
        amount=523417,
        recipient_inn=INN,
        account_number=ACCOUNT_NUMBER,
    )
    full = NoticeLine(
        line_no=2,
        order_id=order(2),
        order_date=date(2026, 3, 15),
        action="",
        amount=100,
        commission=7,
        payer='Иванов И. И. "квартира" \\ 1',
        recipient_inn=INN,
        recipient_kpp=KPP,
        bik=REQUISITES["bik"],
        settlement_account=REQUISITES["settlement_account"],
        document_id=DOCUMENT_ID,
        period="2026-03",
        purpose="Оплата ЖКУ за март\tи пени",
    )
    by_els = NoticeLine(
        line_no=3, order_id=order(3), order_date=date(2026, 3, 1), action="", amount=99,
        els="70АА000560",
    )  # fmt: skip
    return [
        ReceiveNotice(bank_bik=BANK, line=base),
        ReceiveNotice(bank_bik=BANK, line=full),
        ReceiveNotice(bank_bik=BANK, line=by_els),
        ReceiveNotice(bank_bik=BANK, line=base),  # a duplicate
        AnnulNotice(bank_bik=BANK, order_id=order(3), annul_date="2026-03-20"),
    ]


def stored(ledger: Ledger) -> list[tuple[str, int, str, bytes]]:
    """The import's events in log order (position), as stored."""
    return [
        (r.originator_id, r.version, r.topic, bytes(r.state))
        for r in iter_stored(ledger)
        if r.topic.startswith(("kvit.bank_notice", "kvit.personal_account.payment"))
    ]


def test_bulk_stores_the_bytes_the_handlers_store(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_handlers = Ledger(in_memory_env())
    in_bulk = build_ledger(pg_settings)
    try:
        setup_world(by_handlers)
        setup_world(in_bulk)
        # One clock for both: the library's (the handlers' events) and the bulk import's.
        monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", lambda: FIXED)
        monkeypatch.setattr(bulk, "datetime_now_with_tzinfo", lambda: FIXED)
        expected = run_batch(by_handlers, [HANDLERS.bind(c) for c in register()])
        got = run_notice_batch(in_bulk, register())
        assert [i.error for i in expected] == [None] * 5
        assert [i.outcome.result for i in got] == [i.outcome.result for i in expected]  # type: ignore[union-attr]
        handlers_stored, bulk_stored = stored(by_handlers), stored(in_bulk)
        topics = {topic for _, _, topic, _ in bulk_stored}
        assert topics == {
            "kvit.bank_notice.accepted",
            "kvit.bank_notice.annulled",
            "kvit.personal_account.payment_received",
            "kvit.personal_account.payment_refunded",
        }
        assert len(bulk_stored) == 8  # three notices and an annulment, each with its account's
        assert sorted(bulk_stored) == sorted(handlers_stored)
        # In the log, each line's notice and then its account, line by line (COPY keeps the
        # batch's order; a follower reads them in it).
        assert [topic.rsplit(".", 1)[1] for _, _, topic, _ in bulk_stored] == [
            *["accepted", "payment_received"] * 3,
            *["annulled", "payment_refunded"],
        ]
        # Every line answers with the position of the batch's last event (COPY returns none).
        last = max(r.position for r in iter_stored(in_bulk))
        assert {i.outcome.position for i in got} == {last}  # type: ignore[union-attr]
    finally:
        by_handlers.close()
        in_bulk.close()
