"""Supplier (УК / РСО / ТСЖ): who residents pay, with requisites that change over time."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.identifiers import (
    parse_bik,
    parse_correspondent_account,
    parse_settlement_account,
)
from ledger.domain.ids import natural_id
from ledger.domain.stamped import StampedEvent, event_time
from ledger.domain.text import BANK_NAME


@dataclass(frozen=True)
class Requisites:
    """Bank requisites; the account keys are checked against the БИК on parse."""

    bik: str
    settlement_account: str
    correspondent_account: str
    bank_name: str

    @classmethod
    def parse(
        cls, *, bik: str, settlement_account: str, correspondent_account: str, bank_name: str
    ) -> Requisites:
        bik = parse_bik(bik)
        return cls(
            bik=bik,
            settlement_account=parse_settlement_account(settlement_account, bik=bik),
            correspondent_account=parse_correspondent_account(correspondent_account, bik=bik),
            bank_name=BANK_NAME.parse(bank_name),
        )

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class Supplier(Aggregate):
    TOPIC = "kvit.supplier"

    class Event(StampedEvent):
        pass

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.supplier.created"

    @staticmethod
    def id_for(inn: str) -> UUID:
        """One supplier per ИНН: accounts are keyed by (supplier ИНН, account number)."""
        return natural_id("supplier", inn)

    @staticmethod
    def create_id(*, inn: str, **_: Any) -> UUID:
        return Supplier.id_for(inn)

    class Registered(Created):
        TOPIC = "kvit.supplier.registered"
        inn: str
        kpp: str
        name: str
        requisites: dict[str, str]

    @event(Registered)
    def __init__(self, *, inn: str, kpp: str, name: str, requisites: dict[str, str]) -> None:
        self.inn = inn
        self.kpp = kpp
        self.name = name
        self.requisites = requisites
        self.requisites_history: list[tuple[datetime, dict[str, str]]] = [
            (self.created_on, requisites)
        ]

    def change_requisites(self, requisites: Requisites) -> None:
        """A no-op when nothing changed, so a retried change adds no event."""
        if requisites.as_dict() != self.requisites:
            self._requisites_changed(requisites=requisites.as_dict())

    class RequisitesChanged(Event):
        TOPIC = "kvit.supplier.requisites_changed"
        requisites: dict[str, str]

    @event(RequisitesChanged)
    def _requisites_changed(self, requisites: dict[str, str]) -> None:
        self.requisites = requisites
        self.requisites_history.append((event_time(self), requisites))

    def recipient(self) -> dict[str, str]:
        """The requisites a payment fixes at creation: who exactly receives the money."""
        return {"inn": self.inn, "kpp": self.kpp, "name": self.name, **self.requisites}
