"""The cabinet on a server with no acquirer (the sandbox off, none configured): it offers no
card, neither to pay a bill nor to top up the wallet, since the API would refuse both with
`card_payments_unavailable`; paying from the wallet still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import Server, months_ago, running_server, sign_in


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("cabinet-without-cards")
    with running_server(home, KVIT_SANDBOX_ACQUIRER="false") as started:
        yield started


def test_no_card_is_offered_without_an_acquirer(page: Any, server: Server) -> None:
    sign_in(page, server, "resident-1-2")
    card = page.locator('section[data-account="0100000001"]')
    card.get_by_role("link", name=f"Оплатить счёт за {months_ago(0)[1]}").click()
    page.get_by_role("heading", level=1, name="Оплата ЖКУ").wait_for()
    page.get_by_text("Оплата картой здесь недоступна").wait_for()
    assert page.get_by_label("Банковской картой").count() == 0
    assert page.locator('input[name="method"][value="card"]').count() == 0
    page.get_by_role("button", name="Оплатить", exact=True).click()  # from the wallet
    page.get_by_role("heading", level=2, name="Платёж проведён").wait_for()

    page.get_by_role("link", name="Кошелёк").click()
    page.locator(".wallet-balance").wait_for()
    page.get_by_text("Пополнение картой здесь недоступно").wait_for()
    assert page.get_by_role("button", name="Пополнить").count() == 0
    assert server.payments("resident-1-2")[0]["method"] == "wallet"
