"""Suppliers (УК/РСО) and their requisites."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from api.schemas.common import AsciiDigits, Digits, Strict, Text


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


class SupplierOut(BaseModel):
    id: UUID
    inn: str
    kpp: str
    name: str
    requisites: RequisitesBody


class SupplierList(BaseModel):
    items: list[SupplierOut]
    next_cursor: str | None = None
