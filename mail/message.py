"""The e-mail a payer receives when a card payment succeeds (in Russian, like the cabinet).

With the payment's receipt code (audit/receipt_code.py), once a signed checkpoint covers the
payment, the e-mail also carries it: as a QR code shown inline in an HTML part (a PNG in a
multipart/related, which mail clients show where SVG is not), and as a text attachment that
docs/verify_receipt.py reads as it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

QR_ALT = "QR-код квитанции: платёж, его место в журнале Kvit и подпись журнала"


@dataclass(frozen=True)
class ReceiptCode:
    """A receipt code and its QR code as a PNG (made by the caller: mail/ imports no audit)."""

    text: str
    png: bytes


def rubles(kopecks: int) -> str:
    whole = f"{kopecks // 100:,}".replace(",", "\u00a0")
    return f"{whole},{kopecks % 100:02d}\u00a0₽"


def payment_mail(queued: dict[str, Any], code: ReceiptCode | None = None) -> EmailMessage:
    """`queued` is the outbox payload: payment id, payer, recipient, account, bill, amount, time."""
    recipient = queued["recipient"]
    paid_at = datetime.fromisoformat(queued["paid_at"])
    message = EmailMessage()
    message["To"] = queued["email"]
    message["Subject"] = f"Платёж принят: {rubles(queued['amount'])} — {recipient['name']}"
    # A fixed Message-ID per payment lets mail systems drop a duplicate if one is ever resent.
    message["Message-ID"] = f"<payment-{queued['payment_id']}@kvit>"
    message["Date"] = format_datetime(paid_at)
    lines = [
        "Здравствуйте!",
        "",
        "Ваш платёж за жилищно-коммунальные услуги принят.",
        "",
        f"Сумма: {rubles(queued['amount'])}",
        f"Получатель: {recipient['name']}, ИНН {recipient['inn']}, КПП {recipient['kpp']}",
        f"Банк получателя: {recipient['bank_name']}, БИК {recipient['bik']}",
        f"Расчётный счёт: {recipient['settlement_account']}",
        f"Лицевой счёт: {queued['account_number']}",
    ]
    if queued.get("document_id"):
        lines.append(f"Платёжный документ (ИПД): {queued['document_id']}")
    lines += [
        f"Время: {paid_at.strftime('%d.%m.%Y %H:%M:%S UTC')}",
        f"Плательщик: {queued['payer_id']}",
        f"Идентификатор платежа: {queued['payment_id']}",
        "",
    ]
    if code is not None:
        lines += [
            "К письму приложена квитанция, которую можно проверить без сети: QR-код и его текст",
            f"(receipt-{queued['payment_id']}.txt). Её проверяет docs/verify_receipt.py из Kvit",
            "по открытому ключу журнала.",
            "",
        ]
    message.set_content("\n".join([*lines, "Kvit"]))
    if code is not None:
        attach_code(message, code, lines, queued["payment_id"])
    return message


def attach_code(
    message: EmailMessage, code: ReceiptCode, lines: list[str], payment_id: str
) -> None:
    """The same text as HTML with the QR code inline, and the code as an attachment."""
    cid = make_msgid("receipt-qr", "kvit")
    paragraphs = "<br>\n".join(html.escape(line) for line in lines)
    message.add_alternative(
        f'<!doctype html><html lang="ru"><body><p>{paragraphs}</p>'
        f'<p><img src="cid:{cid[1:-1]}" alt="{html.escape(QR_ALT)}" style="max-width:100%"></p>'
        "<p>Kvit</p></body></html>",
        subtype="html",
    )
    page = message.get_body(preferencelist=("html",))
    assert page is not None  # just added
    page.add_related(code.png, "image", "png", cid=cid)
    message.add_attachment(code.text + "\n", subtype="plain", filename=f"receipt-{payment_id}.txt")
