"""The fiscal receipt (54-ФЗ) that T-Bank's online cash register issues, sent with `Init`.

Kvit takes payments for ЖКУ as a payment agent: each item is a service of the bill, with the
agent's attributes (`AgentData`, tags 1222/1073/1074) and the supplier it collects for
(`SupplierInfo`, tags 1225/1226/1171). Kvit keeps no supplier phone yet, so the agent's phone
stands in for tag 1171; check that with your ОФД before going live (docs/cards.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.acquirer.base import CardOrder, ReceiptItem

NAME_LIMIT = 128  # tag 1030


@dataclass(frozen=True)
class ReceiptSettings:
    taxation: str = "osn"
    vat: str = "none"
    agent_phone: str | None = None


def receipt(order: CardOrder, settings: ReceiptSettings) -> dict[str, Any]:
    """`Receipt` for Init. Items sum to the order's amount: the bill's services when it is paid
    whole, else one item for the account."""
    items = order.items or (ReceiptItem(order.description, order.amount),)
    return {
        "Email": order.email,
        "Taxation": settings.taxation,
        "Items": [_item(item, order, settings) for item in items],
    }


def _item(item: ReceiptItem, order: CardOrder, settings: ReceiptSettings) -> dict[str, Any]:
    line: dict[str, Any] = {
        "Name": item.name[:NAME_LIMIT],
        "Price": item.amount,
        "Quantity": 1,
        "Amount": item.amount,
        "Tax": settings.vat,
        "PaymentMethod": "full_payment",
        "PaymentObject": "service" if order.kind == "payment" else "payment",
    }
    if order.kind == "payment" and settings.agent_phone and order.supplier_inn:
        phones = [settings.agent_phone]
        line["AgentData"] = {
            "AgentSign": "paying_agent",
            "Phones": phones,
            "ReceiverPhones": phones,
        }
        line["SupplierInfo"] = {
            "Name": (order.supplier_name or "")[:NAME_LIMIT],
            "Inn": order.supplier_inn,
            "Phones": phones,
        }
    return line
