"""Storing many sends in one call: gateway -> API internal port, `POST /messages/batch`.

Each item carries its sender's own access token, so the API still decides identity and
membership per item (the internal port grants no extra trust), and each result is what
`POST /api/messages` would have answered for that item alone: 201 stored, 200 already
stored (same client_msg_id), 401/403/404/409/422 refused, 503 try again. One bad item
never fails the others. Items are loosely typed on purpose: a malformed item gets its own
422 result instead of failing the whole batch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chat_contracts.events import MessageData
from chat_contracts.limits import TOKEN_MAX

BATCH_PATH = "/messages/batch"
BATCH_MAX_ITEMS = 500


class StoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=TOKEN_MAX)
    room_id: Any
    content: Any
    client_msg_id: Any


class StoreBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[StoreItem] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


class StoreResult(BaseModel):
    status: int
    message: MessageData | None = None
    detail: str | None = None


class StoreBatchOut(BaseModel):
    """`results[i]` answers `items[i]`."""

    results: list[StoreResult]
