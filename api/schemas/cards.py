"""A resident's saved cards: what the cabinet shows of them, never a number."""

from __future__ import annotations

from pydantic import BaseModel


class SavedCardOut(BaseModel):
    card_id: str
    last4: str
    exp_date: str
    """MMYY, as the acquirer reports it."""


class SavedCardList(BaseModel):
    items: list[SavedCardOut]
