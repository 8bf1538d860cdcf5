"""Register imports on real PostgreSQL: re-sent and overlapping files, at the same time."""

from __future__ import annotations

import io
import threading

from ledger.bootstrap import build_ledger
from ledger.domain import BankNotice
from ledger.notices.importer import ImportSummary, import_register
from ledger.notices.line import COLUMNS
from ledger.settings import Settings
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, INN, setup_world

BANK = "044525225"


def register(orders: range, *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    rows = [";".join(COLUMNS)]
    for n in orders:
        values = dict.fromkeys(COLUMNS, "") | {
            "order_id": f"1{BANK}{n:022d}",
            "order_date": "15.03.2026",
            "amount": "10,00",
            "recipient_inn": INN,
            "account_number": ACCOUNT_NUMBER,
            "payer": "Иванов И. И.",
            "purpose": "Оплата ЖКУ за март",
        }
        rows.append(";".join(values[name] for name in COLUMNS))
    text = "\r\n".join(rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def test_overlapping_registers_imported_at_once_end_as_one_import(pg_settings: Settings) -> None:
    first, second = build_ledger(pg_settings), build_ledger(pg_settings)
    try:
        world = setup_world(first)
        files = [register(range(0, 1500), bom=True), register(range(500, 2000), encoding="cp1251")]
        summaries: list[ImportSummary] = []
        errors: list[BaseException] = []

        def run(ledger: object, data: bytes) -> None:
            try:
                summaries.append(import_register(ledger, io.BytesIO(data), batch_lines=250))  # type: ignore[arg-type]
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [
            threading.Thread(target=run, args=(ledger, data))
            for ledger, data in zip((first, second), files, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        assert not errors, errors
        assert sum(s.accepted for s in summaries) == 2000
        assert sum(s.duplicates for s in summaries) == 1000
        assert all(s.rejected == s.conflicts == 0 for s in summaries)
        account = build_ledger(pg_settings)
        try:
            assert account.get_account(world.account_id).paid == 2000 * 1000
            notice = account.repository.get(BankNotice.id_for(BANK, f"1{BANK}{0:022d}"))
            assert notice.payer == "Иванов И. И."  # decoded from cp1251 or UTF-8 alike
        finally:
            account.close()
        resent = import_register(first, io.BytesIO(files[0]))
        assert (resent.accepted, resent.duplicates) == (0, 1500)
        assert first.get_account(world.account_id).due() == max(0, BILL_TOTAL - 2_000_000)
    finally:
        first.close()
        second.close()
