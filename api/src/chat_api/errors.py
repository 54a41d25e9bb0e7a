"""Domain errors raised by actions and queries, which database failures mean "try again
later", and the shape of a 422's detail.

main.py maps them to HTTP answers in one place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout

# Seconds a shed request is told to wait: long enough for a burst to drain, short enough
# to stay well inside the gateway's 5 s budget for an API call.
RETRY_AFTER_SECONDS = 1


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @classmethod
    def with_status(cls, status_code: int, detail: str) -> DomainError:
        """A refusal decided as a status (a batch item's result), raised as its answer."""
        error = cls(detail)
        error.status_code = status_code
        return error


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


def unavailable_reason(exc: Exception) -> str | None:
    """Why the database cannot take this request now (answer 503), or None for a real fault."""
    if isinstance(exc, PoolTimeout):
        return "database busy: no connection became free in time; retry later"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database connection lost; retry later"
    if isinstance(exc, OperationalError) and exc.statement is None:
        return "database unreachable; retry later"  # failed while connecting, no SQL ran
    return None


def validation_detail(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A 422's detail: each error's `type`, `loc`, `msg` and `ctx`, never its `input`.

    The input is what the caller sent. Python's json accepts NaN, Infinity, 1e400 and lone
    surrogates (`"\\ud800"`), none of which JSON can carry back, so echoing it made the
    default handler fail with a 500 (and uvicorn drop the keep-alive connection); it would
    also echo a password sent next to a bad field. `loc` can name a key the caller sent
    and `ctx` can quote a value, so every string is made encodable too.
    """
    out: list[dict[str, Any]] = []
    for error in errors:
        item: dict[str, Any] = {
            "type": _encodable(error.get("type", "")),
            "loc": [_encodable(part) for part in error.get("loc", ())],
            "msg": _encodable(error.get("msg", "")),
        }
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping) and ctx:
            item["ctx"] = {str(_encodable(k)): _encodable(v) for k, v in ctx.items()}
        out.append(item)
    return out


def _encodable(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    # Non-finite floats, exceptions and anything else become text; lone surrogates
    # become visible \udXXX escapes instead of failing the UTF-8 encode.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")
