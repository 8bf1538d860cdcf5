"""Contract tests for T-Bank's API, from the examples of its documentation (developer.tbank.ru
/eacq; docs/cards.md says which could be checked and which are as remembered): the Token
algorithm against the documentation's worked example; for each method Kvit calls, the request
the client sends and how it reads the documented answer; and the emulator answering in the
same shapes."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from api.acquirer.base import AcquirerState, CardAtAcquirer, CardOrder, Checkout, ReceiptItem
from api.acquirer.tbank.acquirer import TBankAcquirer
from api.acquirer.tbank.client import TBankClient, TBankError
from api.acquirer.tbank.notification import NotificationRefused, verified
from api.acquirer.tbank.receipt import ReceiptSettings
from api.acquirer.tbank.token import signed, token
from tests.emulators.tbank import PASSWORD, TERMINAL_KEY, TBankEmulator

# The documentation's worked example of the Token: root values only (DATA and Receipt are
# left out), Password added, sorted by key, concatenated, SHA-256.
TOKEN_EXAMPLE = {
    "TerminalKey": "MerchantTerminalKey",
    "Amount": 19200,
    "OrderId": "21090",
    "Description": "Подарочная карта на 1000 рублей",
    "DATA": {"Phone": "+71234567890", "Email": "a@test.com"},
    "Receipt": {
        "Email": "a@test.ru",
        "Phone": "+79031234567",
        "Taxation": "osn",
        "Items": [
            {
                "Name": "Наименование товара 1",
                "Price": 10000,
                "Quantity": 1,
                "Amount": 10000,
                "Tax": "vat10",
            }
        ],
    },
}
TOKEN_PASSWORD = "usaf8fw8fsw21g"
TOKEN_CONCATENATED = "19200Подарочная карта на 1000 рублей21090usaf8fw8fsw21gMerchantTerminalKey"
TOKEN = "0024a00af7c350a3a67ca168ce06502aa72772456662e38696d48b56ee9c97d9"

# Documented answers (TerminalKey TinkoffBankTest, PaymentId 13660, OrderId 21050).
ANSWERS: dict[str, Any] = {
    "Init": {
        "Success": True,
        "ErrorCode": "0",
        "TerminalKey": "TinkoffBankTest",
        "Status": "NEW",
        "PaymentId": "13660",
        "OrderId": "21050",
        "Amount": 140000,
        "PaymentURL": "https://securepay.tinkoff.ru/new/fU1ppgqa",
    },
    "GetState": {
        "Success": True,
        "ErrorCode": "0",
        "Message": "OK",
        "TerminalKey": "TinkoffBankTest",
        "Status": "CONFIRMED",
        "PaymentId": "13660",
        "OrderId": "21050",
        "Amount": 140000,
    },
    "Cancel": {
        "Success": True,
        "ErrorCode": "0",
        "TerminalKey": "TinkoffBankTest",
        "Status": "PARTIAL_REFUNDED",
        "PaymentId": "13660",
        "OrderId": "21050",
        "OriginalAmount": 140000,
        "NewAmount": 40000,
    },
    "Charge": {
        "Success": True,
        "ErrorCode": "0",
        "TerminalKey": "TinkoffBankTest",
        "Status": "CONFIRMED",
        "PaymentId": "13660",
        "OrderId": "21050",
        "Amount": 140000,
    },
    "GetCardList": [
        {
            "Pan": "430000******0777",
            "CardId": "881900",
            "Status": "A",
            "RebillId": "1586769",
            "CardType": 0,
            "ExpDate": "1122",
        }
    ],
    "RemoveCard": {
        "Success": True,
        "ErrorCode": "0",
        "TerminalKey": "TinkoffBankTest",
        "Status": "D",
        "CustomerKey": "906540",
        "CardId": "881900",
        "CardType": 0,
    },
}
ORDER = CardOrder(
    operation_id=UUID("5b1f3a2e-1111-4c2b-9a55-0e6a4c1d2f30"),
    kind="payment",
    payer_id="payer-anna",
    amount=523417,
    description="Оплата ЖКУ, лицевой счёт 0667000001",
    email="anna@example.ru",
    items=(ReceiptItem("Холодное водоснабжение", 23417), ReceiptItem("Отопление", 500000)),
    supplier_name='ООО "УК Пример"',
    supplier_inn="7701234567",
    customer_key="c1d2e3",
)


def test_the_token_is_the_documentations_worked_example() -> None:
    assert token(TOKEN_EXAMPLE, TOKEN_PASSWORD) == TOKEN
    assert signed({**TOKEN_EXAMPLE, "Token": TOKEN}, TOKEN_PASSWORD)
    assert not signed({**TOKEN_EXAMPLE, "Amount": 19201, "Token": TOKEN}, TOKEN_PASSWORD)


def test_a_boolean_is_signed_as_the_json_writes_it() -> None:
    """Notifications carry `Success: true`: it enters the token as `true`, not `True`."""
    fields = {"TerminalKey": "T", "Success": True, "PaymentId": 13660}
    assert token(fields, "p") == token(
        {"TerminalKey": "T", "Success": "true", "PaymentId": "13660"}, "p"
    )


class Recording:
    """T-Bank as an httpx transport that answers the documented example for each method."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.sent[method] = json.loads(request.content)
        return httpx.Response(200, json=ANSWERS[method])


@pytest.fixture
def tbank() -> tuple[TBankAcquirer, Recording]:
    recording = Recording()
    http = httpx.Client(transport=httpx.MockTransport(recording))
    client = TBankClient("TinkoffBankTest", "secret-password", "https://t.example/v2", http=http)
    receipts = ReceiptSettings(taxation="osn", vat="none", agent_phone="+74950000000")
    return TBankAcquirer(client, "https://kvit.example", receipts), recording


def test_init_sends_the_order_its_receipt_and_the_card_to_save(
    tbank: tuple[TBankAcquirer, Recording],
) -> None:
    acquirer, recording = tbank
    assert acquirer.open(ORDER) == Checkout("13660", "https://securepay.tinkoff.ru/new/fU1ppgqa")
    sent = recording.sent["Init"]
    assert sent["Token"] == token(sent, "secret-password")
    assert {
        k: sent[k]
        for k in ("TerminalKey", "Amount", "OrderId", "PayType", "Recurrent", "CustomerKey")
    } == {
        "TerminalKey": "TinkoffBankTest",
        "Amount": 523417,
        "OrderId": str(ORDER.operation_id),
        "PayType": "O",
        "Recurrent": "Y",
        "CustomerKey": "c1d2e3",
    }
    assert sent["NotificationURL"] == "https://kvit.example/v1/acquirer/tbank/notifications"
    receipt = sent["Receipt"]
    assert receipt["Taxation"] == "osn" and receipt["Email"] == "anna@example.ru"
    assert sum(item["Amount"] for item in receipt["Items"]) == sent["Amount"]
    assert receipt["Items"][1] == {
        "Name": "Отопление",
        "Price": 500000,
        "Quantity": 1,
        "Amount": 500000,
        "Tax": "none",
        "PaymentMethod": "full_payment",
        "PaymentObject": "service",
        "AgentData": {
            "AgentSign": "paying_agent",
            "Phones": ["+74950000000"],
            "ReceiverPhones": ["+74950000000"],
        },
        "SupplierInfo": {
            "Name": 'ООО "УК Пример"',
            "Inn": "7701234567",
            "Phones": ["+74950000000"],
        },
    }


def test_the_other_methods_send_what_is_documented_and_read_its_answer(
    tbank: tuple[TBankAcquirer, Recording],
) -> None:
    acquirer, recording = tbank
    assert acquirer.state("13660") == AcquirerState("CONFIRMED", 140000)
    assert acquirer.charge("13660", "1586769").status == "CONFIRMED"
    assert acquirer.cancel("13660", amount=100000, request_id="r-1").status == "PARTIAL_REFUNDED"
    assert acquirer.cards("906540") == [
        CardAtAcquirer("881900", "430000******0777", "1122", "1586769", active=True)
    ]
    acquirer.remove_card("906540", "881900")
    expected = {
        "GetState": {"PaymentId": "13660"},
        "Charge": {"PaymentId": "13660", "RebillId": "1586769"},
        "Cancel": {"PaymentId": "13660", "Amount": 100000, "ExternalRequestId": "r-1"},
        "GetCardList": {"CustomerKey": "906540"},
        "RemoveCard": {"CustomerKey": "906540", "CardId": "881900"},
    }
    for method, fields in expected.items():
        sent = recording.sent[method]
        assert sent == {"TerminalKey": "TinkoffBankTest", **fields, "Token": sent["Token"]}
        assert sent["Token"] == token(sent, "secret-password")


def test_a_refusal_is_an_error_with_t_banks_code() -> None:
    refused = {
        "Success": False,
        "ErrorCode": "204",
        "Message": "Неверный токен",
        "Details": "Проверьте пару TerminalKey/Password",
    }
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=refused)))
    client = TBankClient("TinkoffBankTest", "wrong", "https://t.example/v2", http=http)
    with pytest.raises(TBankError) as error:
        client.call("GetState", {"PaymentId": "13660"})
    assert error.value.code == "204"


def test_a_notification_is_verified_before_it_is_read() -> None:
    note = {
        "TerminalKey": "TinkoffBankTest",
        "OrderId": str(ORDER.operation_id),
        "Success": True,
        "Status": "AUTHORIZED",
        "PaymentId": 13660,
        "ErrorCode": "0",
        "Amount": 523417,
        "CardId": 881900,
        "Pan": "430000******0777",
        "ExpDate": "1122",
        "RebillId": 1586769,
    }
    note["Token"] = token(note, "secret-password")
    assert verified(note, "TinkoffBankTest", "secret-password").RebillId == 1586769
    with pytest.raises(NotificationRefused):
        verified({**note, "Amount": 1}, "TinkoffBankTest", "secret-password")
    with pytest.raises(NotificationRefused):
        verified(note, "AnotherTerminal", "secret-password")


@pytest.mark.parametrize("method", sorted(ANSWERS))
def test_the_emulator_answers_in_the_documented_shape(method: str) -> None:
    emulator = TBankEmulator()
    client = TBankClient(
        TERMINAL_KEY,
        PASSWORD,
        "http://emulator/v2",
        http=TestClient(emulator.app, base_url="http://emulator"),
    )
    init = client.call(
        "Init", {"Amount": 140000, "OrderId": "21050", "CustomerKey": "906540", "Recurrent": "Y"}
    )
    payment_id = int(init["PaymentId"])
    if method != "Init":
        emulator.decide(payment_id, approve=True)  # a paid session with a saved card
    card = next(iter(emulator.customers["906540"].values()), None)
    if method == "Charge":
        payment_id = int(client.call("Init", {"Amount": 140000, "OrderId": "21051"})["PaymentId"])
    fields = {
        "Init": {"Amount": 140000, "OrderId": "21052"},
        "GetState": {"PaymentId": str(payment_id)},
        "Cancel": {"PaymentId": str(payment_id), "Amount": 100000},
        "Charge": {"PaymentId": str(payment_id), "RebillId": card.rebill_id if card else ""},
        "GetCardList": {"CustomerKey": "906540"},
        "RemoveCard": {"CustomerKey": "906540", "CardId": card.card_id if card else ""},
    }[method]
    answer = client.call(method, fields)
    documented = ANSWERS[method]
    if isinstance(documented, list):
        assert isinstance(answer, list) and set(answer[0]) == set(documented[0])
    else:
        assert set(documented) <= set(answer), set(documented) - set(answer)
