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


def _bind_service(service: str) -> Any:
    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service
