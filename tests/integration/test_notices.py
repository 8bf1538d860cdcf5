"""E-mail notices through a real SMTP server (aiosmtpd): once per card payment, never lost."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller

from ledger.application import Ledger
from ledger.payments.commands import CreatePayment, SettleCardPayment
from ledger.settings import Settings
from mail import outbox
from mail.mailer import SmtpMailer
from mail.worker import MailWorker
from projections.settings import ReadSettings, open_store
from storage.sql import Store
from tests.fixtures import World, setup_world
from tests.processes import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path, database_url=None)
    else:
        settings = request.getfixturevalue("pg_settings")
    store = open_store(settings, ReadSettings())
    outbox.migrate(store)
    yield store
    store.close()


def card_payment(ledger: Ledger, world: World, key: str, email: str | None) -> UUID:
    created = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="card",
            amount=523_417,
            email=email,
            confirm=True,
            idempotency_key=key,
        )
    )
    payment_id = UUID(created.result["id"])
    ledger.execute(
        SettleCardPayment(
            payment_id=payment_id, succeeded=True, amount=523_417, acquirer_ref=f"acq-{key}"
        )
    )
    return payment_id


def drain(worker: MailWorker) -> int:
    while worker.collect():
        pass
    return worker.deliver()


def test_a_card_payment_sends_one_notice_and_a_restart_sends_nothing_more(
    memory_ledger: Ledger, store: Store, smtp: tuple[Controller, Inbox]
) -> None:
    controller, inbox = smtp
    world = setup_world(memory_ledger, wallet_balance=10_000)
    payment_id = card_payment(memory_ledger, world, "card", "anna@example.org")
    card_payment(memory_ledger, world, "no-mail", None)
    memory_ledger.execute(
        CreatePayment.parse(  # a wallet payment sends no notice, even with an address
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=100,
            email="anna@example.org",
            confirm=True,
            idempotency_key="wallet-payment",
        )
    )
    mailer = SmtpMailer(f"smtp://127.0.0.1:{controller.port}")

    worker = MailWorker(memory_ledger, store, mailer.send)
    assert drain(worker) == 1
    worker.close()
    restarted = MailWorker(memory_ledger, store, mailer.send)
    assert drain(restarted) == 0
    restarted.close()

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "anna@example.org"
    assert message["Message-ID"] == f"<payment-{payment_id}@kvit>"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    for expected in ("5\u00a0234,17", "0667000001", str(payment_id), "7701234560", "payer-1"):
        assert expected in body


def test_an_smtp_outage_delays_the_notice_but_does_not_lose_it(
    memory_ledger: Ledger, store: Store, smtp: tuple[Controller, Inbox]
) -> None:
    controller, inbox = smtp
    world = setup_world(memory_ledger)
    card_payment(memory_ledger, world, "card", "anna@example.org")
    down = SmtpMailer(f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    worker = MailWorker(memory_ledger, store, down.send)

    assert drain(worker) == 0
    connection = store.connect()
    with store.transaction(connection) as tx:
        assert outbox.counts(tx) == {"pending": 1}
        # Make the retry due now instead of after the back-off.
        tx.execute(f"UPDATE {store.name(outbox.OUTBOX)} SET next_attempt_at = 0")
    connection.close()

    worker.send = SmtpMailer(f"smtp://127.0.0.1:{controller.port}").send
    assert drain(worker) == 1
    assert drain(worker) == 0
    worker.close()
    assert len(inbox.messages) == 1


def test_a_notice_that_keeps_failing_is_set_aside_after_bounded_retries(
    memory_ledger: Ledger, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mail.worker.MAX_ATTEMPTS", 2)
    world = setup_world(memory_ledger)
    card_payment(memory_ledger, world, "card", "anna@example.org")
    down = SmtpMailer(f"smtp://127.0.0.1:{free_port()}")
    worker = MailWorker(memory_ledger, store, down.send)
    connection = store.connect()
    for _ in range(3):
        drain(worker)
        with store.transaction(connection) as tx:
            tx.execute(f"UPDATE {store.name(outbox.OUTBOX)} SET next_attempt_at = 0")
    with store.transaction(connection) as tx:
        assert outbox.counts(tx) == {"undeliverable": 1}
    connection.close()
    worker.close()


@pytest.mark.postgres
def test_the_worker_reconnects_after_its_connection_is_cut(
    memory_ledger: Ledger, pg_settings: Settings, smtp: tuple[Controller, Inbox]
) -> None:
    """After a failover the worker's connection is gone; it must make a new one and go on,
    not log `the connection is lost` every half second forever."""
    import threading
    import time

    import psycopg

    controller, inbox = smtp
    store = open_store(pg_settings, ReadSettings())
    outbox.migrate(store)
    world = setup_world(memory_ledger, wallet_balance=10_000)
    worker = MailWorker(
        memory_ledger, store, SmtpMailer(f"smtp://127.0.0.1:{controller.port}").send
    )
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,))
    running.start()
    try:
        pid = worker._connection.info.backend_pid  # the worker's own session, no other
        with psycopg.connect(str(pg_settings.database_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        card_payment(memory_ledger, world, "after-cut", "anna@example.org")
        deadline = time.monotonic() + 15
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(inbox.messages) == 1
    finally:
        stop.set()
        running.join(10)
        worker.close()
        store.close()
