"""Message stores batched into `POST {API_INTERNAL_URL}/messages/batch`.

One HTTP call per sent message bounded persistence (the API's per-request overhead and
the gateway's HTTP pool under load). Sends from every socket go into one bounded queue;
at most `STORE_CONCURRENCY` batch requests are in flight and whenever one is free it takes
everything queued (up to the contract's `BATCH_MAX_ITEMS`). There is no linger timer: an
idle replica sends a lone message at once, and batches grow only while the API is busy,
which is exactly when fewer, larger requests help. For the same reason a second batch opens
beside one in flight only once `STORE_PARALLEL_MIN` sends wait: below that, waiting one
round trip and going out together is cheaper than a request each. A full queue refuses at once
(retryable "overloaded") instead of letting waits grow past the clients' patience.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import httpx
import orjson
import structlog
from chat_contracts.batch import BATCH_MAX_ITEMS, BATCH_PATH, StoreBatchOut
from chat_contracts.events import MessageData
from pydantic import ValidationError

from ws_gateway.api_client import ApiError
from ws_gateway.batch_http import BatchPoster, HttpxPoster
from ws_gateway.metrics import API_REQUEST_SECONDS, STORE_BATCH_SIZE, STORE_QUEUE_DEPTH

log = structlog.get_logger("ws_gateway.store")

# 503: the same retryable answer the API gives when it sheds load itself.
OVERLOADED_STATUS = 503


@dataclass(slots=True)
class _Item:
    token: str
    room_id: int
    content: str
    client_msg_id: str
    future: asyncio.Future[MessageData]


class StoreBatcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        internal_url: str,
        *,
        concurrency: int,
        queue_max: int,
        parallel_min: int = 1,
        poster: BatchPoster | None = None,
    ) -> None:
        self._url = internal_url.rstrip("/") + BATCH_PATH
        self._poster = poster or HttpxPoster(client, self._url)
        self._concurrency = max(concurrency, 1)
        self._parallel_min = max(parallel_min, 1)
        self._queue_max = max(queue_max, 1)
        self._queue: deque[_Item] = deque()
        self._batches: set[asyncio.Task[None]] = set()
        self._dispatch_pending = False

    async def store(
        self, token: str, *, room_id: int, content: str, client_msg_id: str
    ) -> MessageData:
        """The stored message (new or the original for a repeated client_msg_id).

        Raises ApiError: the item's own status (4xx refused, 5xx/429/408 retryable), 0 when
        the batch request failed as a whole, or 503 "overloaded" when the queue is full.
        """
        if len(self._queue) >= self._queue_max:
            raise ApiError(OVERLOADED_STATUS, "overloaded")
        future: asyncio.Future[MessageData] = asyncio.get_running_loop().create_future()
        # Marks the exception retrieved even when the waiting socket is gone already.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(_Item(token, room_id, content, client_msg_id, future))
        self._schedule()  # _dispatch() sets the queue depth gauge, once per loop turn
        # shield: a socket going away must not cancel a store that may already be committed;
        # the future still settles for the batch's bookkeeping.
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        await self._poster.aclose()

    def _schedule(self) -> None:
        # One loop turn, not a timer: frames that arrived in the same turn share a request.
        if not self._dispatch_pending:
            self._dispatch_pending = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_pending = False
        while self._queue and len(self._batches) < self._concurrency:
            if self._batches and len(self._queue) < self._parallel_min:
                break  # let it grow: the batch in flight picks it up when it returns
            take = min(len(self._queue), BATCH_MAX_ITEMS)
            items = [self._queue.popleft() for _ in range(take)]
            task = asyncio.create_task(self._send(items), name="store-batch")
            self._batches.add(task)
            task.add_done_callback(self._batch_done)
        STORE_QUEUE_DEPTH.set(len(self._queue))

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        if self._queue:
            self._dispatch()

    async def _send(self, items: list[_Item]) -> None:
        STORE_BATCH_SIZE.observe(len(items))
        body = orjson.dumps(
            {
                "items": [
                    {
                        "token": i.token,
                        "room_id": i.room_id,
                        "content": i.content,
                        "client_msg_id": i.client_msg_id,
                    }
                    for i in items
                ]
            }
        )
        started = time.perf_counter()
        try:
            status, content = await self._poster.post(body)
            if status != 200:
                raise ApiError(0, f"store batch HTTP {status}")
            out = StoreBatchOut.model_validate_json(content)
            if len(out.results) != len(items):
                raise ApiError(0, "store batch: result count mismatch")
        except (ApiError, ValidationError) as exc:
            # The whole request failed: any item may or may not be stored, so every one is
            # retryable (resending the same client_msg_id returns the original).
            error = exc if isinstance(exc, ApiError) else ApiError(0, type(exc).__name__)
            log.warning("store_batch_failed", items=len(items), error=error.detail)
            for item in items:
                _settle(item.future, error)
            return
        except BaseException:
            # Cancelled (shutdown): nobody will answer these items; their clients resend.
            for item in items:
                _settle(item.future, ApiError(0, "gateway stopping"))
            raise
        finally:
            API_REQUEST_SECONDS.labels("store_batch").observe(time.perf_counter() - started)
        for item, result in zip(items, out.results, strict=True):
            if result.status in (200, 201):
                if result.message is None:
                    _settle(item.future, ApiError(0, "store result without message"))
                elif not item.future.done():
                    item.future.set_result(result.message)
            else:
                _settle(item.future, ApiError(result.status, result.detail or "store failed"))


def _settle(future: asyncio.Future[MessageData], error: ApiError) -> None:
    if not future.done():
        # A fresh exception per item: one instance raised in many tasks tangles tracebacks.
        future.set_exception(ApiError(error.status, error.detail))
