"""structlog JSON logging, identical across services, with secrets redacted."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"(token|password|secret|authorization|cookie|jwt)", re.IGNORECASE)
# A JWT anywhere in a free-text value: three base64url parts, header starting "eyJ".
_JWT_IN_TEXT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}")
REDACTED = "[redacted]"
# Kubelet probes, load balancers and the gateway's API check hit these every few seconds:
# at INFO they were most of a dev log (434 lines in 14 minutes), so they log at DEBUG.
PROBE_PATHS = ("/healthz", "/readyz")
# Each service runs two uvicorn servers in one process (public + internal/ops port); both
# print these identical lifecycle lines. "Uvicorn running on <url>" differs, so it stays.
_UVICORN_LIFECYCLE = frozenset(
    {
        "Started server process [%d]",
        "Waiting for application startup.",
        "Application startup complete.",
        "Shutting down",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        "Finished server process [%d]",
    }
)


def request_log_level(path: str) -> int:
    """The level of a request log line: DEBUG for probes (also under a prefix), else INFO."""
    return logging.DEBUG if path.endswith(PROBE_PATHS) else logging.INFO


class _FirstOnly(logging.Filter):
    """Lets through the first of each uvicorn lifecycle line, drops its repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in _UVICORN_LIFECYCLE:
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def _colors() -> bool:
    """ANSI colours unless NO_COLOR is set and not empty (no-color.org); structlog's
    ConsoleRenderer colours whenever it can, even into a file."""
    return not os.environ.get("NO_COLOR")


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str) and "eyJ" in value:
            event_dict[key] = _JWT_IN_TEXT.sub(REDACTED, value)
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route both structlog and stdlib logging (uvicorn, sqlalchemy) through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=_colors())
    )
    structlog.configure(
        # filter_by_level first: a call below the level costs one check, not the whole chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _bind_service(service),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log prints the request line; query strings must never carry
    # tokens, but keep it off anyway: our own middleware logs requests.
    logging.getLogger("uvicorn.access").disabled = True
    uvicorn_log = logging.getLogger("uvicorn.error")
    for old in [f for f in uvicorn_log.filters if isinstance(f, _FirstOnly)]:
        uvicorn_log.removeFilter(old)
    uvicorn_log.addFilter(_FirstOnly())


def _bind_service(service: str) -> Any:
    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service
