"""The card payment's e-mail notice carries the receipt's QR code once a signed checkpoint
covers the payment (mail/message.py), through a real SMTP server: inline in the HTML part, and
as text; the code read off the image checks out with docs/verify_receipt.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from functools import partial
from pathlib import Path

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from PIL import Image

from api.bootstrap import mailed_receipt_code
from audit.service import checkpoint_now, log_verifier
from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from mail import outbox, worker
from mail.mailer import SmtpMailer
from mail.message import QR_ALT
from mail.worker import MailWorker
from projections.settings import ReadSettings, open_store
from storage.sql import Store
from tests.fixtures import setup_world
from tests.integration.test_notices import Inbox, card_payment, drain, smtp
from tests.unit.test_receipt_code import verify_receipt

__all__ = ["smtp"]  # the SMTP server fixture


@dataclass
class Audited:
    ledger: Ledger
    store: AuditStore
    outbox: Store
    settings: AuditSettings


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[Audited]:
    settings = AuditSettings(data_dir=tmp_path, database_url=None)
    migrate(settings)
    ledger = build_ledger(settings)
    store = AuditStore.open(settings)
    store.ensure_tables()
    mail_store = open_store(settings, ReadSettings())
    outbox.migrate(mail_store)
    yield Audited(ledger, store, mail_store, settings)
    mail_store.close()
    store.close()
    ledger.close()


def parts(message: Message) -> dict[str, Message]:
    return {part.get_content_type(): part for part in message.walk()}


def content(part: Message) -> bytes:
    found = part.get_payload(decode=True)
    assert isinstance(found, bytes)
    return found


def test_a_notice_waits_for_the_signed_checkpoint_and_carries_the_code(
    audited: Audited,
    smtp: tuple[Controller, Inbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(worker, "RECHECK_SECONDS", 0.0)
    controller, inbox = smtp
    world = setup_world(audited.ledger, wallet_balance=0)
    payment_id = card_payment(audited.ledger, world, "card", "anna@example.org")
    mailer = MailWorker(
        audited.ledger,
        audited.outbox,
        SmtpMailer(f"smtp://127.0.0.1:{controller.port}").send,
        receipt_code=partial(mailed_receipt_code, audited.ledger, audited.store),
        receipt_wait=600,
    )

    assert drain(mailer) == 0  # no checkpoint yet: it waits, and counts no attempt
    with audited.outbox.transaction(audited.outbox.connect()) as tx:
        assert outbox.counts(tx) == {"pending": 1}
    checkpoint_now(audited.ledger, audited.store, audited.settings)
    assert drain(mailer) == 1

    [message] = inbox.messages
    found = parts(message)
    assert set(found) >= {"multipart/related", "text/html", "image/png", "text/plain"}
    page = content(found["text/html"]).decode()
    cid = found["image/png"]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in page and f'alt="{QR_ALT}"' in page
    png = content(found["image/png"])
    [scanned] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    [attached] = [p for p in message.walk() if p.get_filename() == f"receipt-{payment_id}.txt"]
    assert content(attached).decode().strip() == scanned.text

    key = log_verifier(audited.settings).text()
    assert verify_receipt.main([scanned.text, "--log-key", key]) == 0
    said = capsys.readouterr().out
    assert "this payment of 5\u00a0234,17 \u20bd to ИНН" in said and "succeeded at" in said


def test_a_notice_that_may_not_wait_goes_at_once_without_a_code(
    audited: Audited, smtp: tuple[Controller, Inbox]
) -> None:
    controller, inbox = smtp
    world = setup_world(audited.ledger, wallet_balance=0)
    card_payment(audited.ledger, world, "card", "anna@example.org")
    mailer = MailWorker(
        audited.ledger,
        audited.outbox,
        SmtpMailer(f"smtp://127.0.0.1:{controller.port}").send,
        receipt_code=partial(mailed_receipt_code, audited.ledger, audited.store),
    )
    assert drain(mailer) == 1
    [message] = inbox.messages
    assert message.get_content_type() == "text/plain"
    assert "Сумма: 5\u00a0234,17\u00a0₽" in content(message).decode()
