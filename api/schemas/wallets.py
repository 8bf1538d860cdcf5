"""Wallets and card top-ups."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from api.schemas.common import Kopecks, Strict
from ledger.payments.commands import RequestTopUp


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

    def command(self, *, wallet_id: UUID, payer_id: str, idempotency_key: str) -> RequestTopUp:
        return RequestTopUp(
            wallet_id=wallet_id,
            payer_id=payer_id,
            amount=self.amount,
            idempotency_key=idempotency_key,
        )


class TopUpOut(BaseModel):
    id: UUID
    status: str
    amount: int
    checkout_url: str | None = None
