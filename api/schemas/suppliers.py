"""Suppliers (УК/РСО) and their requisites."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from api.schemas.common import AsciiDigits, Digits, Strict, Text
from ledger.registry.commands import RegisterSupplier


class RequisitesBody(Strict):
    bik: AsciiDigits
    settlement_account: AsciiDigits
    correspondent_account: AsciiDigits
    bank_name: Text


class RegisterSupplierBody(Strict):
    inn: Digits
    kpp: AsciiDigits
    name: Text
    requisites: RequisitesBody

    def command(self, *, idempotency_key: str, scope: str) -> RegisterSupplier:
        return RegisterSupplier.parse(
            inn=self.inn,
            kpp=self.kpp,
            name=self.name,
            requisites=self.requisites.model_dump(),
            idempotency_key=idempotency_key,
            caller_scope=scope,
        )


class SupplierOut(BaseModel):
    id: UUID
    inn: str
    kpp: str
    name: str
    requisites: RequisitesBody


class SupplierList(BaseModel):
    items: list[SupplierOut]
    next_cursor: str | None = None
