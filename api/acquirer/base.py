"""What Kvit needs from an acquirer. `Acquirer` is what every one does (open a checkout for a
card operation); `AcquirerApi` is an acquirer Kvit can also ask and instruct afterwards (state,
cancel and refund, saved cards), as T-Bank's API allows and the sandbox does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable
from uuid import UUID

OperationKind = Literal["payment", "top_up"]


@dataclass(frozen=True)
class ReceiptItem:
    """One line of the fiscal receipt (54-ФЗ): a service of the bill, in kopecks."""

    name: str
    amount: int


@dataclass(frozen=True)
class CardOrder:
    """A card operation as the acquirer is told about it."""

    operation_id: UUID
    kind: OperationKind
    payer_id: str
    amount: int
    description: str
    email: str | None = None
    items: tuple[ReceiptItem, ...] = ()
    """Sum to `amount`; empty for a top-up, which is not a payment for services."""
    supplier_name: str | None = None
    supplier_inn: str | None = None
    customer_key: str | None = None
    """Save the card under this key (T-Bank: `Recurrent=Y` + `CustomerKey`)."""


@dataclass(frozen=True)
class Checkout:
    """The session the acquirer opened: its id there, and where the payer goes."""

    acquirer_payment_id: str
    payment_url: str


@dataclass(frozen=True)
class AcquirerState:
    """What the acquirer says of a session now (T-Bank's status names)."""

    status: str
    amount: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardAtAcquirer:
    card_id: str
    pan: str
    exp_date: str
    rebill_id: str | None
    active: bool


class Acquirer(Protocol):
    name: str

    def open(self, order: CardOrder) -> Checkout:
        """Open the session the payer pays in. The acquirer reports the outcome to Kvit's
        notification URL."""
        ...


@runtime_checkable
class AcquirerApi(Acquirer, Protocol):
    def state(self, acquirer_payment_id: str) -> AcquirerState: ...

    def cancel(
        self, acquirer_payment_id: str, *, amount: int | None = None, request_id: str | None = None
    ) -> AcquirerState:
        """Close an unpaid session, or return `amount` of a paid one (all of it if None)."""
        ...

    def charge(self, acquirer_payment_id: str, rebill_id: str) -> AcquirerState:
        """Pay an opened session with a saved card, without the payment page."""
        ...

    def cards(self, customer_key: str) -> list[CardAtAcquirer]: ...

    def remove_card(self, customer_key: str, card_id: str) -> None: ...
