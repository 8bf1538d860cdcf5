"""Wallets and card top-ups."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from api.schemas.common import Kopecks, Strict


class OpenWalletBody(Strict):
    pass


class WalletOut(BaseModel):
    id: UUID
    payer_id: str
    balance: int
    as_of: int


class WalletList(BaseModel):
    items: list[WalletOut]


class TopUpBody(Strict):
    amount: Kopecks


class TopUpOut(BaseModel):
    id: UUID
    status: str
    amount: int
    checkout_url: str | None = None
