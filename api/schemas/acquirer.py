"""The acquirer's webhook."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import Kopecks, Strict


class AcquirerNotificationBody(Strict):
    operation_id: UUID
    status: Literal["succeeded", "declined"]
    amount: Kopecks
    acquirer_ref: Annotated[str, Field(min_length=1, max_length=100)]


class NotificationAck(BaseModel):
    operation_id: UUID
    kind: Literal["payment", "top_up"]
    status: str
