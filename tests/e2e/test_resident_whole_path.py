"""The resident's whole path on a production deployment's own parts: `kvit migrate`, `serve`,
`project` and `mail` as processes on PostgreSQL; sign-in through a real OpenID Provider
(oidc-provider, run by node); cards through the T-Bank emulator (tests/emulators/tbank.py) as
a real HTTP server; e-mail to a real SMTP server (aiosmtpd); all of it driven in headless
Debian chromium, as a resident would go.

Signs in at the provider's pages, links an account with the ИПД printed on a bill, pays that
bill by card on the emulator's payment page and saves the card, pays the next bill with the
saved card in one click, sees both in the history, gets both e-mails, signs out."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from ledger.settings import Settings
from tests.e2e.browser import DESKTOP
from tests.e2e.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, log_in, running_provider
from tests.e2e.test_card_payment_through_processes import kvit
from tests.emulators.serving import serving
from tests.emulators.tbank import PASSWORD, TERMINAL_KEY, TBankEmulator
from tests.integration.test_notices import Inbox
from tests.processes import free_port, launch, read_logs, stop_all, wait_ready

pytestmark = pytest.mark.postgres

INN, NUMBER = "7701234560", "0667000001"
BILLS = (  # (ИПД, period, what the cabinet calls it, amount)
    ("70АА000560-01-6110", "2026-10", "октябрь 2026", 523417),
    ("70АА000560-01-6111", "2026-11", "ноябрь 2026", 498120),
)
EMAIL = "olga@example.org"


@dataclass
class Deployment:
    base: str
    provider: Provider
    emulator: TBankEmulator
    inbox: Inbox


@pytest.fixture
def deployment(
    pg_settings: Settings, smtp_inbox: tuple[int, Inbox], tmp_path: Path
) -> Iterator[Deployment]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = TBankEmulator()
    with (
        serving(emulator.app) as emulator_url,
        running_provider(free_port(), base, tmp_path) as provider,
    ):
        emulator.base_url = emulator_url
        # As docs/operating.md configures a deployment, plus what a test server needs.
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KVIT_")},
            "KVIT_DATABASE_URL": str(pg_settings.database_url),
            "KVIT_DATABASE_SCHEMA": str(pg_settings.database_schema),
            "KVIT_DATA_DIR": str(tmp_path / "var"),
            # No KVIT_ACQUIRER_SECRET: that is the sandbox's; T-Bank signs with its password.
            "KVIT_SECRET_KEY": "whole-path-secret-key-that-is-long-enough-for-hs256",
            "KVIT_PUBLIC_URL": base,
            "KVIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_inbox[0]}",
            "KVIT_DATABASE_POOL_SIZE": "4",
            "KVIT_OIDC_ISSUER": provider.issuer,
            "KVIT_OIDC_CLIENT_ID": CLIENT_ID,
            "KVIT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "KVIT_ACQUIRER": "tbank",
            "KVIT_TBANK_TERMINAL_KEY": TERMINAL_KEY,
            "KVIT_TBANK_PASSWORD": PASSWORD,
            "KVIT_TBANK_API_URL": f"{emulator_url}/v2",
        }
        kvit(env, "migrate")
        logs = tmp_path / "logs"
        logs.mkdir()
        processes = [
            launch(env, logs, *args)
            for args in (("project",), ("mail",), ("serve", "--port", str(port)))
        ]
        try:
            wait_ready(base, watch=processes, said=lambda: read_logs(logs))
            bills_issued(base, env)
            yield Deployment(base, provider, emulator, smtp_inbox[1])
            print(read_logs(logs))  # shown by pytest only when the test failed
            print(f"--- op.log\n{provider.log()[-3000:]}")
        finally:
            stop_all(*processes)


def bills_issued(base: str, env: dict[str, str]) -> None:
    """The supplier's side, through the API as its operator: the supplier, the resident's
    personal account, two months' bills."""
    operator = {"Authorization": f"Bearer {kvit(env, 'token', '--role', 'operator')}"}
    with httpx.Client(base_url=base, headers=operator, timeout=10) as client:

        def post(path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = client.post(path, json=body, headers={"Idempotency-Key": key})
            assert answer.status_code in (200, 201), answer.text
            return dict(answer.json())

        supplier = post(
            "/v1/suppliers",
            "supplier",
            {
                "inn": INN,
                "kpp": "770101001",
                "name": 'ООО "УК Пример"',
                "requisites": {
                    "bik": "044525225",
                    "settlement_account": "40702810138250123017",
                    "correspondent_account": "30101810400000000225",
                    "bank_name": "ПАО СБЕРБАНК",
                },
            },
        )
        account = post(
            "/v1/accounts",
            "account",
            {"supplier_id": supplier["id"], "account_number": NUMBER, "address": "Москва"},
        )
        for document_id, period, _, amount in BILLS:
            post(
                f"/v1/accounts/{account['id']}/bills",
                f"bill-{period}",
                {
                    "document_id": document_id,
                    "period": period,
                    "lines": [{"service": "Отопление", "amount": amount}],
                    "due_date": f"{period}-28",
                },
            )


def only_this_machine(context: Any) -> None:
    """oidc-provider's pages import a web font; the machine's network is closed."""
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1"
            else route.abort()
        ),
    )


def pay_bill(tab: Any, name: str) -> None:
    tab.locator(f'section[data-account="{NUMBER}"]').get_by_role(
        "link", name=f"Оплатить счёт за {name}"
    ).click()
    tab.get_by_role("heading", level=1, name="Оплата ЖКУ").wait_for()


def paid_payment(tab: Any) -> str:
    result = tab.locator("section.result")
    tab.get_by_role("heading", level=2, name="Платёж проведён").wait_for()
    return str(result.get_attribute("data-payment"))


def mails_for(inbox: Inbox, payment_ids: list[str]) -> list[Any]:
    wanted = {f"<payment-{p}@kvit>" for p in payment_ids}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [m for m in inbox.messages if m["Message-ID"] in wanted]
        if len(found) == len(wanted):
            return found
        time.sleep(0.1)
    raise AssertionError(f"mailed: {[m['Message-ID'] for m in inbox.messages]}")


def test_a_resident_signs_in_links_pays_twice_by_card_and_signs_out(
    deployment: Deployment, browser: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    context.set_default_timeout(15_000)
    only_this_machine(context)
    tab = context.new_page()

    # Signs in at the provider's own pages; the first sign-in makes the resident.
    tab.goto(deployment.base + "/")
    tab.get_by_role("link", name="Войти").click()
    assert tab.url.startswith(deployment.provider.issuer)
    log_in(tab, "olga")
    tab.get_by_text("Пока нет привязанных лицевых счетов").wait_for()

    # Links the account with the ИПД printed on the October bill.
    (first_document, _, first_name, first_amount), (_, _, next_name, next_amount) = BILLS
    tab.get_by_label("ИНН поставщика").fill(INN)
    tab.get_by_label("Номер лицевого счёта").fill(NUMBER)
    tab.get_by_label(re.compile("Подтверждение")).fill(first_document)
    tab.get_by_role("button", name="Привязать").click()
    tab.get_by_text(f"Лицевой счёт {NUMBER} привязан").wait_for()

    # Pays it by card on the acquirer's page, and saves the card there.
    pay_bill(tab, first_name)
    assert tab.get_by_label("Банковской картой").is_checked()  # no wallet: the card
    tab.get_by_label("Запомнить карту для следующих оплат").check()
    tab.get_by_label("E-mail для кассового чека").fill(EMAIL)
    tab.get_by_role("button", name="Оплатить", exact=True).click()
    tab.get_by_role("heading", level=2, name="Платёж ожидает оплаты картой").wait_for()
    with context.expect_page() as opened:
        tab.get_by_role("link", name="Перейти к оплате картой").click()
    checkout = opened.value
    assert checkout.url.startswith(deployment.emulator.base_url)
    checkout.get_by_role("button", name="Оплатить").click()
    # T-Bank sends the payer back: to the history, where the payment shows (same session).
    checkout.get_by_role("heading", level=1, name="История платежей").wait_for()
    assert checkout.url.startswith(deployment.base)
    checkout.close()
    first = paid_payment(tab)  # this tab saw it settle by itself

    # The next bill: the saved card, one click, no acquirer's page.
    tab.get_by_role("link", name="К лицевым счетам").click()
    pay_bill(tab, next_name)
    saved = tab.get_by_label("Картой •• 0777")
    saved.check()
    tab.get_by_label("E-mail для кассового чека").fill(EMAIL)
    tab.get_by_role("button", name="Оплатить", exact=True).click()
    second = paid_payment(tab)
    assert len(context.pages) == 1
    charged = [f for method, f in deployment.emulator.requests if method == "Charge"]
    assert len(charged) == 1 and "RebillId" in charged[0]

    # Both in the history, newest first; the account owes nothing.
    tab.get_by_role("link", name="Открыть историю платежей").click()
    items = tab.locator("li.payment")
    items.nth(1).wait_for()
    assert [items.nth(i).get_attribute("data-payment") for i in range(2)] == [second, first]
    assert [items.nth(i).get_attribute("data-status") for i in range(2)] == ["succeeded"] * 2
    tab.get_by_role("link", name="Лицевые счета").click()
    tab.locator(f'section[data-account="{NUMBER}"]').get_by_text("Задолженности нет").wait_for()

    # One e-mail per payment, to the address given; the card number is in neither.
    mails = mails_for(deployment.inbox, [first, second])
    assert {m["To"] for m in mails} == {EMAIL}
    assert {m["Message-ID"] for m in mails} == {f"<payment-{p}@kvit>" for p in (first, second)}
    assert all("430000" not in m.as_string() for m in mails)
    total = first_amount + next_amount
    assert sum(p.amount for p in deployment.emulator.sessions.values()) == total

    # Signs out, here and at the provider.
    tab.get_by_role("button", name="Выйти").click()
    tab.get_by_role("button", name="Yes, sign me out").click()
    tab.get_by_role("link", name="Войти").wait_for()
    assert not tab.evaluate("fetch('/auth/session').then(r => r.json())")["signed_in"]
    context.close()
