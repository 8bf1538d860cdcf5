"""The resident's cabinet in a real browser (headless Debian chromium via Playwright) against a
real `kvit serve` on embedded SQLite, filled by `kvit demo`.

Demo data the tests rely on (api/demo.py): resident-1-N has account 01000000{N-1} with this
month's bill unpaid and 20,000 ₽ topped up into the wallet; resident-2-N's wallet is nearly
empty; account 0100000005 at supplier ИНН 7700010007 is linked to nobody.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    Server,
    months_ago,
    no_horizontal_scroll,
    serious_violations,
    sign_in,
    sign_in_new,
)
from tests.unit.test_receipt_code import verify_receipt

THIS_MONTH, THIS_MONTH_NAME = months_ago(0)


def rub_text(kopecks: int) -> str:
    """As the page shows roubles in Russian: "4 671,55 ₽" (narrow no-break spaces)."""
    whole = f"{kopecks // 100:,}".replace(",", "\u00a0")
    return f"{whole},{kopecks % 100:02d}\u00a0₽"


def digits(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def open_pay_form_for_this_month(page: Any, account: str) -> None:
    card = page.locator(f'section[data-account="{account}"]')
    card.get_by_role("link", name=f"Оплатить счёт за {THIS_MONTH_NAME}").click()
    page.get_by_role("heading", level=1, name="Оплата ЖКУ").wait_for()


def pay_button(page: Any) -> Any:
    return page.get_by_role("button", name="Оплатить", exact=True)


def test_link_an_account_with_messages_next_to_the_fields(page: Any, server: Server) -> None:
    sign_in_new(page, server, "e2e-newcomer")
    page.get_by_text("Пока нет привязанных лицевых счетов").wait_for()
    inn, number = page.get_by_label("ИНН поставщика"), page.get_by_label("Номер лицевого счёта")

    inn.fill("7700010008")  # the check digit of 7700010007 changed
    number.fill("0100000005")
    page.get_by_role("button", name="Привязать").click()
    error = page.locator(f"#{inn.get_attribute('id')}-error")
    error.wait_for()
    assert "Неверный ИНН" in error.inner_text()
    assert inn.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in inn.get_attribute("aria-describedby")

    inn.fill("7700010007")
    number.fill("0100009999")
    page.get_by_role("button", name="Привязать").click()
    error = page.locator(f"#{number.get_attribute('id')}-error")
    error.wait_for()
    assert "не найден" in error.inner_text()
    assert inn.get_attribute("aria-invalid") is None

    number.fill("0100000005")
    page.get_by_role("button", name="Привязать").click()
    page.get_by_text("Лицевой счёт 0100000005 привязан").wait_for()
    card = page.locator('section[data-account="0100000005"]')
    # Proof of possession: without it, an unconfirmed link shows no bills.
    assert "не подтверждён" in card.inner_text()
    assert THIS_MONTH_NAME not in card.inner_text()
    inn.fill("7700010007")
    number.fill("0100000005")
    proof = page.get_by_label(re.compile("Подтверждение"))
    proof.fill("1 234,56")  # a sum is what the unconfirmed link shows: it proves nothing
    page.get_by_role("button", name="Привязать").click()
    error = page.locator(f"#{proof.get_attribute('id')}-error")
    error.wait_for()
    assert "укажите ИПД" in error.inner_text()
    proof.fill("70АЕ000005-01-0004")  # this month's ИПД, as printed on the bill
    page.get_by_role("button", name="Привязать").click()
    card.locator(".badge-unconfirmed").wait_for(state="detached")
    assert "К оплате" in card.inner_text()
    assert THIS_MONTH_NAME in card.inner_text()
    linked = server.api("e2e-newcomer", "/v1/me/accounts")["items"]
    assert [a["account_number"] for a in linked] == ["0100000005"]


def test_pay_from_the_wallet_and_by_card_and_see_both_in_the_history(
    page: Any, server: Server
) -> None:
    payer, account = "resident-1-1", "0100000000"
    sign_in(page, server, payer)
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    before = server.wallet_balance(payer)
    assert before > 0

    page.get_by_role("link", name="Кошелёк").click()
    balance = page.locator(".wallet-balance")
    balance.wait_for()
    assert balance.inner_text() == rub_text(before)

    # From the wallet: this month's bill, amount pre-filled with what is due on it.
    page.get_by_role("link", name="Лицевые счета").click()
    open_pay_form_for_this_month(page, account)
    amount_input = page.get_by_label("Сумма, ₽")
    bill = next(
        b
        for b in server.api(payer, "/v1/me/accounts")["items"][0]["bills"]
        if b["period"] == THIS_MONTH
    )
    assert digits(amount_input.input_value()) == bill["amount_due"]
    assert 'ООО "УК Демо-1"' in page.locator(".recipient").inner_text()
    assert "40702810138250123017" in page.locator(".recipient").inner_text()
    assert page.get_by_label(re.compile("Из кошелька")).is_checked()
    pay_button(page).click()
    page.get_by_role("heading", level=2, name="Платёж проведён").wait_for()

    # By card, through the sandbox acquirer's page: what is still due on the whole account.
    page.get_by_role("link", name="К лицевым счетам").click()
    page.locator(f'section[data-account="{account}"]').get_by_role(
        "link", name="Оплатить ЖКУ"
    ).click()
    page.get_by_label("Банковской картой").check()
    amount_input = page.get_by_label("Сумма, ₽")
    amount_input.fill("250,50")  # editable
    pay_button(page).click()
    page.get_by_role("heading", level=2, name="Платёж ожидает оплаты картой").wait_for()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Перейти к оплате картой").click()
    checkout = opened.value
    checkout.get_by_role("button", name="Оплатить").click()
    checkout.get_by_text("Платёж одобрен").wait_for()
    checkout.close()
    page.get_by_role("heading", level=2, name="Платёж проведён").wait_for()

    # The history shows both, newest first, without a reload.
    page.get_by_role("link", name="Открыть историю платежей").click()
    page.get_by_role("heading", level=1, name="История платежей").wait_for()
    items = page.locator("li.payment")
    items.first.wait_for()
    card_item, wallet_item = items.nth(0), items.nth(1)
    assert card_item.get_attribute("data-status") == "succeeded"
    assert rub_text(25050) in card_item.inner_text()
    assert "Карта" in card_item.inner_text() and "Оплачен" in card_item.inner_text()
    assert rub_text(bill["amount_due"]) in wallet_item.inner_text()
    assert "Кошелёк" in wallet_item.inner_text()

    # The wallet paid this month's bill, the card did not touch it.
    page.get_by_role("link", name="Кошелёк").click()
    balance.wait_for()
    after = before - bill["amount_due"]
    assert balance.inner_text() == rub_text(after)
    assert server.wallet_balance(payer) == after
    assert page.evaluate("window.__sameDocument") is True
    newest = server.payments(payer)[:2]
    assert [(p["method"], p["status"], p["amount"]) for p in newest] == [
        ("card", "succeeded", 25050),
        ("wallet", "succeeded", bill["amount_due"]),
    ]


def test_insufficient_funds_is_explained(page: Any, server: Server) -> None:
    payer = "resident-2-1"
    balance = server.wallet_balance(payer)
    sign_in(page, server, payer)
    open_pay_form_for_this_month(page, "0200000000")
    pay_button(page).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    assert "Недостаточно средств в кошельке" in text
    assert rub_text(balance) in text
    assert alert.get_by_role("link", name="Пополнить кошелёк").is_visible()
    assert server.wallet_balance(payer) == balance


def test_a_double_click_pays_once(page: Any, server: Server) -> None:
    payer = "resident-1-3"
    before = server.payments(payer)
    sign_in(page, server, payer)
    open_pay_form_for_this_month(page, "0100000002")
    pay_button(page).dblclick()
    page.get_by_role("heading", level=2, name="Платёж проведён").wait_for()
    after = server.payments(payer)
    assert len(after) == len(before) + 1
    assert after[0]["status"] == "succeeded"


def test_a_retry_after_a_lost_answer_reuses_the_key_and_pays_once(
    page: Any, server: Server
) -> None:
    payer = "resident-1-4"
    before = server.payments(payer)
    balance = server.wallet_balance(payer)
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        response = route.fetch()  # the server does the payment …
        if len(keys) == 1:
            route.abort("connectionreset")  # … and its answer is lost on the way
        else:
            route.fulfill(response=response)

    sign_in(page, server, payer)
    page.route("**/v1/payments", lose_first_answer)
    open_pay_form_for_this_month(page, "0100000003")
    pay_button(page).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "не будет проведён дважды" in alert.inner_text()
    pay_button(page).click()
    page.get_by_role("heading", level=2, name="Платёж проведён").wait_for()
    assert len(keys) == 2 and keys[0] == keys[1]
    after = server.payments(payer)
    assert len(after) == len(before) + 1
    assert server.wallet_balance(payer) == balance - after[0]["amount"]


def test_history_filters_and_pages_by_cursor(page: Any, server: Server) -> None:
    payer = "resident-2-2"
    everything = server.payments(payer)
    sign_in(page, server, payer)
    page.get_by_role("link", name="История платежей").click()
    items = page.locator("li.payment")
    items.first.wait_for()
    assert items.count() == min(len(everything), 10)
    # The months there are bills for, by name: no empty month input (Chromium: "--------- ----").
    month, name = months_ago(2)
    period = page.get_by_label("Расчётный период")
    assert period.evaluate("e => e.tagName") == "SELECT"
    named = period.locator("option").all_inner_texts()
    assert named == ["Все периоды", *(months_ago(n)[1] for n in range(4))]
    period.select_option(label=name)
    page.get_by_label("Статус").select_option("succeeded")
    page.get_by_role("button", name="Применить").click()
    expected = [p for p in everything if p["period"] == month and p["status"] == "succeeded"]
    page.wait_for_function(
        "n => document.querySelectorAll('li.payment').length === n", arg=len(expected)
    )
    for i in range(len(expected)):
        assert items.nth(i).get_attribute("data-payment") == expected[i]["id"]


def test_paging_by_cursor(page: Any, server: Server) -> None:
    payer = "e2e-many-payments"
    sign_in_new(page, server, payer)
    # Link an account and make 12 small card payments through the API, then page through them.
    headers = {"Authorization": f"Bearer {server.token(payer)}"}
    linked = httpx.post(
        server.base + "/v1/me/accounts",
        json={"supplier_inn": "7700010007", "account_number": "0100000004"},
        headers={**headers, "Idempotency-Key": "link"},
        timeout=10,
    ).json()
    for i in range(12):
        httpx.post(
            server.base + "/v1/payments",
            json={"account_id": linked["id"], "amount": 100 + i, "method": "card"},
            headers={**headers, "Idempotency-Key": f"pay-{i}"},
            timeout=10,
        ).raise_for_status()
    page.get_by_role("link", name="История платежей").click()
    items = page.locator("li.payment")
    items.first.wait_for()
    assert items.count() == 10
    page.get_by_role("button", name="Показать ещё").click()
    page.wait_for_function("() => document.querySelectorAll('li.payment').length === 12")
    assert not page.get_by_role("button", name="Показать ещё").is_visible()
    shown = [items.nth(i).get_attribute("data-payment") for i in range(12)]
    assert len(set(shown)) == 12
    assert "Ожидает подтверждения" in items.first.inner_text()


def test_keyboard_only_sign_in_with_visible_focus(page: Any, server: Server) -> None:
    page.goto(server.base + "/")
    page.locator('button[data-payer="resident-1-5"]').wait_for()
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.payer || ''")
        if focused == "resident-1-5":
            break
    else:
        pytest.fail("the demo resident's button cannot be reached with Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1, name="Лицевые счета").wait_for()


def test_english_is_switchable(page: Any, server: Server) -> None:
    sign_in(page, server, "resident-1-5")
    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", level=1, name="Personal accounts").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("link", name="Payment history").click()
    page.get_by_role("heading", level=1, name="Payment history").wait_for()
    page.get_by_role("button", name="Русский").click()
    page.get_by_role("heading", level=1, name="История платежей").wait_for()


QR_SHOWN = "() => document.querySelector('img.qr')?.naturalWidth > 0"
SCREENS = ["sign-in", "accounts", "pay", "history", "wallet"]


def show(page: Any, server: Server, screen: str) -> None:
    if screen == "sign-in":
        page.goto(server.base + "/")
        page.locator('button[data-payer="resident-1-5"]').wait_for()
        return
    if not page.url.endswith(("#/accounts", "#/history", "#/wallet")) and "#/pay" not in page.url:
        sign_in(page, server, "resident-1-5")
    if screen == "accounts":
        page.get_by_role("link", name="Лицевые счета").click()
        page.locator("details summary").first.click()
        page.locator("table.lines").first.wait_for()
        page.wait_for_function(QR_SHOWN)
    elif screen == "pay":
        page.get_by_role("link", name="Лицевые счета").click()
        open_pay_form_for_this_month(page, "0100000004")
        page.wait_for_function(QR_SHOWN)
    elif screen == "history":
        page.get_by_role("link", name="История платежей").click()
        page.locator("li.payment").first.wait_for()
    elif screen == "wallet":
        page.get_by_role("link", name="Кошелёк").click()
        page.locator(".wallet-balance").wait_for()


@pytest.mark.parametrize("width", ["desktop", "phone", "zoom-200"])
def test_every_screen_is_accessible_and_fits(
    browser: Any,
    server: Server,
    width: str,
    tmp_path: Path,
) -> None:
    """axe-core finds nothing serious or critical; nothing scrolls sideways on a 360 px phone or
    at 200 % zoom (a 1280 px window at 200 % lays out like 640 CSS px at 2x); screenshots of
    each screen go to KVIT_E2E_SCREENSHOTS (`make screenshots` writes docs/screenshots/)."""
    viewport = {"desktop": DESKTOP, "phone": PHONE, "zoom-200": {"width": 640, "height": 450}}
    context = browser.new_context(
        viewport=viewport[width],
        device_scale_factor=2 if width == "zoom-200" else 1,
        locale="ru-RU",
        bypass_csp=True,
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    shots = Path(os.environ.get("KVIT_E2E_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    found = {}
    try:
        for screen in SCREENS:
            show(tab, server, screen)
            found[screen] = serious_violations(tab)
            if width != "desktop":
                assert no_horizontal_scroll(tab), f"{screen} scrolls sideways at {width}"
            if width != "zoom-200":
                tab.screenshot(path=str(shots / f"{screen}-{width}.png"), full_page=True)
    finally:
        context.close()
    assert found == {screen: [] for screen in SCREENS}


def test_a_token_handed_over_by_redirect_signs_in_and_leaves_the_address_bar(
    page: Any, server: Server
) -> None:
    page.goto(f"{server.base}/#token={server.token('resident-1-5')}")
    # Asked first (tests/security/test_session_handover.py): a link may come from anyone.
    page.get_by_role("button", name="Войти как resident-1-5").click()
    page.get_by_role("heading", level=1, name="Лицевые счета").wait_for()
    page.locator('section[data-account="0100000004"]').wait_for()
    assert "token" not in page.url
    page.reload()  # the tab keeps its session
    page.locator('section[data-account="0100000004"]').wait_for()
    page.go_back()  # the entry with the token was replaced, not kept behind this one
    assert "token" not in page.url
    page.go_forward()
    page.locator('section[data-account="0100000004"]').wait_for()
    page.get_by_role("button", name="Выйти").click()
    page.get_by_role("heading", level=1, name="Вход в личный кабинет").wait_for()
    assert page.evaluate("sessionStorage.getItem('kvit.token')") is None


def test_a_pasted_token_signs_in_and_a_bad_one_is_refused(page: Any, server: Server) -> None:
    page.goto(server.base + "/")
    field = page.get_by_label("Токен доступа")
    field.fill("not-a-token")
    page.locator("form:has(textarea) button").click()
    page.get_by_text("Токен недействителен или просрочен").wait_for()
    field.fill(server.token("resident-1-5")[:-4] + "AAAA")  # a bad signature
    page.locator("form:has(textarea) button").click()
    page.get_by_text("Токен недействителен или просрочен").wait_for()
    field.fill(server.token("resident-1-5"))
    page.locator("form:has(textarea) button").click()
    page.locator('section[data-account="0100000004"]').wait_for()


def test_a_payable_bill_shows_its_payment_qr_code(page: Any, server: Server) -> None:
    sign_in(page, server, "resident-1-5")
    open_pay_form_for_this_month(page, "0100000004")
    qr = page.locator("img.qr")
    page.wait_for_function(QR_SHOWN)
    document = qr.get_attribute("alt").rsplit(" ", 1)[-1]
    assert document == "70АД000004-01-0004"
    due = digits(page.get_by_label("Сумма, ₽").input_value())
    payload = httpx.get(
        f"{server.base}/v1/bills/{document}/qr",
        params={"format": "text"},
        headers={"Authorization": f"Bearer {server.token('resident-1-5')}"},
        timeout=10,
    ).text
    assert f"|Sum={due}|" in payload or payload.endswith(f"|Sum={due}")


RECEIPT_SHOWN = "() => document.querySelector('.receipt-qr img')?.naturalWidth > 0"


def test_a_paid_payment_shows_a_receipt_qr_code_that_checks_offline(
    page: Any, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_in(page, server, "resident-1-2")  # its history is `kvit demo`'s, under a checkpoint
    page.get_by_role("link", name="История платежей").click()
    item = page.locator('li.payment[data-status="succeeded"]').first
    item.get_by_text("Квитанция, которую можно проверить").click()
    page.wait_for_function(RECEIPT_SHOWN)
    image = item.locator(".receipt-qr img")
    assert (image.get_attribute("alt") or "").startswith("QR-код квитанции: платёж ")
    payment_id = item.get_attribute("data-payment")
    json_link = item.get_by_role("link", name="Скачать квитанцию (JSON)")
    assert json_link.get_attribute("download") == f"receipt-{payment_id}.json"
    assert not serious_violations(page)

    # What the page shows reads back, and checks out offline with the log's published key.
    [scanned] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.screenshot())))
    key = httpx.get(f"{server.base}/v1/audit/key", timeout=10).text.strip()
    assert verify_receipt.main([scanned.text, "--log-key", key]) == 0
    assert "succeeded at" in capsys.readouterr().out


ON_ONE_ROW = """() => {
    const boxes = [...document.querySelectorAll('#top > *')].map(e => e.getBoundingClientRect());
    const lowestTop = Math.max(...boxes.map(b => b.top));
    return boxes.every(b => b.bottom > lowestTop);
}"""


@pytest.mark.parametrize("payer", ["resident-1-1", "0b9f3c4e-6a43-5b1e-9d0a-2f6c1e7d8a90"])
def test_the_header_is_one_row_at_1280_px(page: Any, server: Server, payer: str) -> None:
    """The brand, the sections and the tools side by side at desktop width, in both languages,
    even for a long payer id (OpenID Connect sign-in makes a UUID); a long one is cut with an
    ellipsis and is whole in its title."""
    sign_in_new(page, server, payer)
    for switch in ("English", "Русский"):
        assert page.evaluate(ON_ONE_ROW), (
            f"the header wraps ({page.locator('html').get_attribute('lang')})"
        )
        who = page.locator(".who")
        assert payer in (who.get_attribute("title") or "")
        page.get_by_role("button", name=switch).click()


IDENTIFIER_LINES = """() => [...document.querySelectorAll('main dd, main .lead + p')]
    .filter(e => /\\d{2}-\\d{4}/.test(e.textContent))
    .map(e => {
        const found = e.textContent.match(/\\S+-\\d{2}-\\d{4}/)[0];
        const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        for (let node; (node = walker.nextNode()); ) {
            const at = node.data.indexOf(found);
            if (at >= 0) { range.setStart(node, at); range.setEnd(node, at + found.length); break; }
        }
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        const inside = range.getBoundingClientRect().right <= e.getBoundingClientRect().right + 1;
        return [found, tops.size, inside];
    })"""


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_bill_identifier_is_never_broken_across_lines(
    browser: Any, server: Server, width: str
) -> None:
    """An ИПД (70АА000000-01-0004) is one word to whoever copies it from the screen: it moves to
    the next line whole, and stays inside its column."""
    context = browser.new_context(viewport=DESKTOP if width == "desktop" else PHONE, locale="ru-RU")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        sign_in(tab, server, "resident-1-5")  # no test pays its bill
        tab.locator("li.bill").first.wait_for()
        on_accounts = tab.evaluate(IDENTIFIER_LINES)
        open_pay_form_for_this_month(tab, "0100000004")
        tab.locator("main .lead").wait_for()
        on_pay = tab.evaluate(IDENTIFIER_LINES)
    finally:
        context.close()
    assert len(on_accounts) == 4 and len(on_pay) == 1
    assert [[found, 1, True] for found, _, _ in on_accounts + on_pay] == on_accounts + on_pay
