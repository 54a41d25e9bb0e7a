"""`python -m chat_frontend`: site and ops servers in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import structlog
import uvicorn
from chat_contracts.logging import configure_logging
from fastapi import FastAPI

from chat_frontend.config import get_settings
from chat_frontend.main import create_app, create_ops_app

log = structlog.get_logger("chat_frontend")


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal capture: we stop both servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve() -> None:
    settings = get_settings()
    ops_app = create_ops_app()

    def server(app: FastAPI, port: int) -> _Server:
        # log_config=None: keep the structlog handlers configure_logging installed.
        config = uvicorn.Config(
            app, host=settings.frontend_host, port=port, log_config=None, access_log=False
        )
        return _Server(config)

    site = server(create_app(settings), settings.frontend_port)
    ops = server(ops_app, settings.frontend_ops_port)

    loop = asyncio.get_running_loop()

    def stop(signame: str) -> None:
        log.info("shutdown", signal=signame)
        # Go unready first so a load balancer stops sending traffic, then stop both.
        ops_app.state.draining = True
        site.should_exit = True
        ops.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)

    log.info(
        "starting",
        port=settings.frontend_port,
        ops_port=settings.frontend_ops_port,
        api_base=settings.public_api_base,
        ws_url=settings.public_ws_url,
    )
    await asyncio.gather(site.serve(), ops.serve())
    log.info("stopped")


def main() -> None:
    settings = get_settings()
    configure_logging("chat-frontend", level=settings.log_level, json=settings.log_json)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
