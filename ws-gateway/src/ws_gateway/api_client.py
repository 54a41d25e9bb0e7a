"""The public API called with the user's own token: the API decides identity and membership.

Identical GETs (same token, path and query) share one call while it waits for a connection:
a reconnect storm resumes every tab of a user with the same room lookup and replay. A call
is shared only until it is sent, so each caller's answer is read after the caller asked (a
resuming socket buffers live events from before its call: the replay must start later).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from chat_contracts.events import EventPage, MessageData
from chat_contracts.limits import PAGE_MAX

from ws_gateway.http import ADMITTED
from ws_gateway.metrics import API_REQUEST_SECONDS, API_SHARED

PAGE_LIMIT = PAGE_MAX  # the API's maximum page size


class ApiError(Exception):
    """A failed API call. `status` 0 means the API was not reachable."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail

    @property
    def retryable(self) -> bool:
        """Network errors, timeouts, throttling and 5xx may succeed later; 4xx will not."""
        return self.status == 0 or self.status in (408, 425, 429) or self.status >= 500


class ApiClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str, prefix: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/") + "/" + prefix.strip("/")
        self._waiting: dict[tuple[str, str, str], asyncio.Future[Any]] = {}

    async def _call(
        self,
        op: str,
        method: str,
        path: str,
        token: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        admitted: Callable[[], None] | None = None,
    ) -> Any:
        started = time.perf_counter()
        try:
            resp = await self._client.request(
                method,
                self._base + path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                extensions={ADMITTED: admitted} if admitted else None,
            )
        except httpx.HTTPError as exc:
            raise ApiError(0, type(exc).__name__) from None
        finally:
            API_REQUEST_SECONDS.labels(op).observe(time.perf_counter() - started)
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, _detail(resp))
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def _get(
        self, op: str, path: str, token: str, params: dict[str, Any] | None = None
    ) -> Any:
        """GET, shared with identical GETs asked while it waits to be sent (module doc)."""
        key = (token, path, urlencode(sorted(params.items())) if params else "")
        flight = self._waiting.get(key)
        if flight is None:
            flight = self._take_off(key, op, path, token, params)
        else:
            API_SHARED.labels(op).inc()
        # shield: one caller giving up (its socket closed) must not cancel the others' answer.
        return await asyncio.shield(flight)

    def _take_off(
        self, key: tuple[str, str, str], op: str, path: str, token: str, params: Any
    ) -> asyncio.Future[Any]:
        def sent() -> None:  # from now on an identical GET is a call of its own
            if self._waiting.get(key) is flight:
                del self._waiting[key]

        def settled(done: asyncio.Future[Any]) -> None:
            sent()
            if not done.cancelled():
                done.exception()  # retrieved: every caller may have given up already

        flight = asyncio.ensure_future(
            self._call(op, "GET", path, token, params=params, admitted=sent)
        )
        flight.add_done_callback(settled)
        self._waiting[key] = flight
        return flight

    async def get_room(self, token: str, room_id: int) -> dict[str, Any]:
        room: dict[str, Any] = await self._get("get_room", f"/rooms/{room_id}", token)
        return dict(room)  # a copy each: callers share one answer

    async def edit_message(self, token: str, message_id: int, content: str) -> MessageData:
        return MessageData.model_validate(
            await self._call(
                "edit_message", "PATCH", f"/messages/{message_id}", token, json={"content": content}
            )
        )

    async def delete_message(self, token: str, message_id: int) -> MessageData:
        return MessageData.model_validate(
            await self._call("delete_message", "DELETE", f"/messages/{message_id}", token)
        )

    async def room_events(self, token: str, room_id: int, after: int) -> AsyncIterator[EventPage]:
        """Pages of the room's events after `after` (event seq), until the last page."""
        async for page in self._pages("room_events", f"/rooms/{room_id}/events", token, after):
            yield page

    async def user_events(self, token: str, after: int) -> AsyncIterator[EventPage]:
        """Pages of the token's user's own events after `after`, until the last page."""
        async for page in self._pages("user_events", "/users/me/events", token, after):
            yield page

    async def _pages(self, op: str, path: str, token: str, after: int) -> AsyncIterator[EventPage]:
        while True:
            params = {"after": after, "limit": PAGE_LIMIT}
            page = EventPage.model_validate(await self._get(op, path, token, params=params))
            yield page
            if not page.has_more or not page.events:
                return
            after = page.events[-1].event_seq


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:200] if detail is not None else resp.reason_phrase
