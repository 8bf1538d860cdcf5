"""The e-mail a payer receives when a card payment succeeds (in Russian, like the cabinet)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any


def rubles(kopecks: int) -> str:
    whole = f"{kopecks // 100:,}".replace(",", "\u00a0")
    return f"{whole},{kopecks % 100:02d}\u00a0₽"


def payment_mail(queued: dict[str, Any]) -> EmailMessage:
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
        "Kvit",
    ]
    message.set_content("\n".join(lines))
    return message
