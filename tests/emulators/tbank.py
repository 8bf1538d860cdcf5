"""An EMULATOR of T-Bank's internet acquiring API (EACQ v2), for the tests: not T-Bank, and
faithful only to what its documentation says (docs/cards.md lists what it does not cover).

Each `/v2/<Method>` checks the request's Token like T-Bank and answers in its shapes: Init
opens a session with a PaymentURL whose page approves or declines; the decision (or Charge
with a saved card's RebillId) moves it NEW → AUTHORIZED → CONFIRMED or to REJECTED, and each
status is POSTed, signed, to the session's NotificationURL; GetState answers the truth; Cancel
closes, reverses or refunds (idempotent by ExternalRequestId); GetCardList and RemoveCard
keep the cards saved by payments with Recurrent=Y and a CustomerKey.

Switches for the tests: `lose_notifications` (none is delivered), `three_ds_cards` (Charge
with such a card is refused and the session stays payable at its page).
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from api.acquirer.tbank.token import signed, token

TERMINAL_KEY = "TinkoffBankTest"
PASSWORD = "emulator-terminal-password"
FINAL = {"CONFIRMED", "REJECTED", "CANCELED", "REVERSED", "REFUNDED"}


@dataclass
class Card:
    card_id: str
    pan: str
    exp_date: str
    rebill_id: str
    status: str = "A"


@dataclass
class Session:
    payment_id: int
    order_id: str
    amount: int
    notification_url: str | None
    success_url: str | None
    customer_key: str | None
    recurrent: bool
    status: str = "NEW"
    refunded: int = 0
    card: Card | None = None
    cancels: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Delivery:
    url: str
    body: dict[str, Any]
    status_code: int
    text: str


class TBankEmulator:
    def __init__(self, terminal_key: str = TERMINAL_KEY, password: str = PASSWORD) -> None:
        self.terminal_key, self.password = terminal_key, password
        self.sessions: dict[int, Session] = {}
        self.customers: dict[str, dict[str, Card]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.deliveries: list[Delivery] = []
        self.lose_notifications = False
        self.three_ds_cards: set[str] = set()
        self.base_url = ""
        self._ids = itertools.count(700_000_001)
        self._cards = itertools.count(880_001)
        self.app = self._build()

    # --- the payer's side ------------------------------------------------------------------
    def decide(self, payment_id: int, *, approve: bool) -> None:
        """What the payment page's buttons do."""
        session = self.sessions[payment_id]
        if session.status not in ("NEW", "FORM_SHOWED"):
            return
        if not approve:
            self._move(session, "REJECTED", success=False, error="1051")
            return
        card = Card(str(next(self._cards)), "430000******0777", "1230", str(next(self._ids)))
        session.card = card
        if session.recurrent and session.customer_key is not None:
            self.customers.setdefault(session.customer_key, {})[card.card_id] = card
        self._move(session, "AUTHORIZED")
        self._move(session, "CONFIRMED")

    def redeliver(self, delivery: Delivery) -> Delivery:
        """POST a delivered notification again, as it was (a replay)."""
        return self._post(delivery.url, delivery.body)

    # --- notifications -----------------------------------------------------------------------
    def _move(
        self,
        session: Session,
        status: str,
        *,
        success: bool = True,
        error: str = "0",
        amount: int | None = None,
    ) -> None:
        session.status = status
        if session.notification_url is None or self.lose_notifications:
            return
        body: dict[str, Any] = {
            "TerminalKey": self.terminal_key,
            "OrderId": session.order_id,
            "Success": success,
            "Status": status,
            "PaymentId": session.payment_id,
            "ErrorCode": error,
            "Amount": session.amount if amount is None else amount,
        }
        if session.card is not None and status in ("AUTHORIZED", "CONFIRMED"):
            body |= {
                "CardId": int(session.card.card_id),
                "Pan": session.card.pan,
                "ExpDate": session.card.exp_date,
            }
            if session.recurrent:
                body["RebillId"] = int(session.card.rebill_id)
        body["Token"] = token(body, self.password)
        self._post(session.notification_url, body)

    def _post(self, url: str, body: dict[str, Any]) -> Delivery:
        try:
            answer = httpx.post(url, json=body, timeout=10)
            delivery = Delivery(url, body, answer.status_code, answer.text)
        except httpx.HTTPError as error:
            delivery = Delivery(url, body, 0, str(error))
        self.deliveries.append(delivery)
        return delivery

    # --- the API -----------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI(title="T-Bank EACQ emulator")

        @app.post("/v2/{method}")
        async def api(method: str, request: Request) -> JSONResponse:
            fields = await request.json()
            self.requests.append((method, fields))
            if fields.get("TerminalKey") != self.terminal_key:
                return JSONResponse(_error("202", "Терминал не найден"))
            if not signed(fields, self.password):
                return JSONResponse(_error("204", "Неверный токен"))
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                return JSONResponse(_error("9999", "Метод не поддерживается эмулятором"))
            return JSONResponse(handler(fields))

        @app.get("/pay/{payment_id}", response_class=HTMLResponse)
        def page(payment_id: int) -> str:
            session = self.sessions[payment_id]
            if session.status == "NEW":
                session.status = "FORM_SHOWED"
            rubles = f"{session.amount // 100},{session.amount % 100:02d}"
            return (
                f'<!doctype html><html lang="ru"><meta charset="utf-8"><title>Оплата</title>'
                f"<h1>Эмулятор T-Bank</h1><p>{html.escape(session.order_id)}: {rubles} ₽</p>"
                f'<form method="post"><button name="decision" value="approve">Оплатить</button>'
                f'<button name="decision" value="decline">Отказаться</button></form>'
            )

        @app.post("/pay/{payment_id}")
        async def decision(payment_id: int, request: Request) -> RedirectResponse:
            approve = b"decision=approve" in await request.body()
            self.decide(payment_id, approve=approve)
            session = self.sessions[payment_id]
            return RedirectResponse(session.success_url or "/", status_code=303)

        return app

    def _session(self, fields: dict[str, Any]) -> Session | None:
        try:
            return self.sessions.get(int(fields.get("PaymentId", "")))
        except ValueError:
            return None

    def _answer(self, session: Session, **extra: Any) -> dict[str, Any]:
        return {
            "Success": True,
            "ErrorCode": "0",
            "TerminalKey": self.terminal_key,
            "Status": session.status,
            "PaymentId": str(session.payment_id),
            "OrderId": session.order_id,
            **extra,
        }

    def _Init(self, fields: dict[str, Any]) -> dict[str, Any]:
        amount, order_id = fields.get("Amount"), fields.get("OrderId")
        if not isinstance(amount, int) or amount <= 0 or not order_id or len(order_id) > 36:
            return _error("9999", "Неверные параметры", "Amount и OrderId обязательны")
        receipt = fields.get("Receipt")
        if receipt is not None:
            items = receipt.get("Items") or []
            if sum(item["Amount"] for item in items) != amount:
                return _error("9999", "Неверные параметры", "сумма позиций чека не равна Amount")
            if not (receipt.get("Email") or receipt.get("Phone")):
                return _error("9999", "Неверные параметры", "в чеке нужен Email или Phone")
        if fields.get("Recurrent") == "Y" and not fields.get("CustomerKey"):
            return _error("9999", "Неверные параметры", "Recurrent требует CustomerKey")
        session = Session(
            payment_id=next(self._ids),
            order_id=str(order_id),
            amount=amount,
            notification_url=fields.get("NotificationURL"),
            success_url=fields.get("SuccessURL"),
            customer_key=fields.get("CustomerKey"),
            recurrent=fields.get("Recurrent") == "Y",
        )
        if session.customer_key is not None:
            self.customers.setdefault(session.customer_key, {})
        self.sessions[session.payment_id] = session
        return self._answer(
            session,
            Amount=amount,
            PaymentURL=f"{self.base_url}/pay/{session.payment_id}",
        )

    def _GetState(self, fields: dict[str, Any]) -> dict[str, Any]:
        session = self._session(fields)
        if session is None:
            return _error("7", "Платёж не найден")
        return self._answer(session, Amount=session.amount - session.refunded, Message="OK")

    def _Cancel(self, fields: dict[str, Any]) -> dict[str, Any]:
        session = self._session(fields)
        if session is None:
            return _error("7", "Платёж не найден")
        request_id = fields.get("ExternalRequestId")
        if request_id and request_id in session.cancels:
            return session.cancels[request_id]
        original = session.amount - session.refunded
        amount = fields.get("Amount", original)
        if session.status in ("NEW", "FORM_SHOWED"):
            self._move(session, "CANCELED")
        elif session.status == "AUTHORIZED":
            self._move(session, "REVERSED")
        elif session.status in ("CONFIRMED", "PARTIAL_REFUNDED") and 0 < amount <= original:
            session.refunded += amount
            refunded = "REFUNDED" if session.refunded == session.amount else "PARTIAL_REFUNDED"
            self._move(session, refunded, amount=amount)
        else:
            return _error("9999", "Отмена невозможна", f"платёж в статусе {session.status}")
        answer = self._answer(
            session, OriginalAmount=original, NewAmount=session.amount - session.refunded
        )
        if request_id:
            session.cancels[request_id] = answer
        return answer

    def _Charge(self, fields: dict[str, Any]) -> dict[str, Any]:
        session = self._session(fields)
        if session is None or session.status != "NEW":
            return _error("9999", "Неверный статус платежа")
        card = next(
            (
                c
                for cards in self.customers.values()
                for c in cards.values()
                if c.rebill_id == str(fields.get("RebillId")) and c.status == "A"
            ),
            None,
        )
        if card is None:
            return _error("9999", "Неверный RebillId")
        if card.card_id in self.three_ds_cards:
            return _error("104", "Требуется 3-D Secure", "оплатите на платёжной странице")
        session.card = card
        self._move(session, "AUTHORIZED")
        self._move(session, "CONFIRMED")
        return self._answer(session, Amount=session.amount)

    def _GetCardList(self, fields: dict[str, Any]) -> Any:
        cards = self.customers.get(str(fields.get("CustomerKey")))
        if cards is None:
            return _error("7", "Покупатель не найден")
        return [
            {
                "CardId": c.card_id,
                "Pan": c.pan,
                "Status": c.status,
                "RebillId": c.rebill_id,
                "CardType": 0,
                "ExpDate": c.exp_date,
            }
            for c in cards.values()
        ]

    def _RemoveCard(self, fields: dict[str, Any]) -> dict[str, Any]:
        key = str(fields.get("CustomerKey"))
        card = self.customers.get(key, {}).get(str(fields.get("CardId")))
        if card is None or card.status != "A":
            return _error("7", "Карта не найдена")
        card.status = "D"
        return {
            "Success": True,
            "ErrorCode": "0",
            "TerminalKey": self.terminal_key,
            "Status": "D",
            "CustomerKey": key,
            "CardId": card.card_id,
            "CardType": 0,
        }


def _error(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"Success": False, "ErrorCode": code, "Message": message, "Details": details}
