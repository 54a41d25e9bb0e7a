"""`python -m ws_gateway`: run one gateway replica until SIGTERM, then drain and exit 0."""

from __future__ import annotations

import asyncio
import logging
import sys

from chat_contracts.logging import configure_logging

from ws_gateway.config import Settings
from ws_gateway.server import run


def main() -> None:
    settings = Settings()
    configure_logging("ws-gateway", level=settings.log_level, json=settings.log_json)
    # httpx logs every request at INFO; our own metrics cover API calls.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # websockets logs every connection open/close at INFO: too chatty per socket.
    logging.getLogger("websockets.server").setLevel(logging.WARNING)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        sys.exit(asyncio.run(run(settings)))
    sys.exit(uvloop.run(run(settings)))


if __name__ == "__main__":
    main()
