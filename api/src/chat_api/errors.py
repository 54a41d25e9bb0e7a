"""Domain errors raised by crud, and which database failures mean "try again later".

main.py maps both to HTTP answers in one place.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout

# Seconds a shed request is told to wait: long enough for a burst to drain, short enough
# to stay well inside the gateway's 5 s budget for an API call.
RETRY_AFTER_SECONDS = 1


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
