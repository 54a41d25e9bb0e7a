"""`python -m chat_api migrate` (prestart step) and `python -m chat_api serve`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog
import uvicorn
from chat_contracts.logging import configure_logging
from pydantic import ValidationError

from chat_api.config import Settings

if TYPE_CHECKING:
    from chat_api.state import AppState

log = structlog.get_logger("chat_api")


def _settings() -> Settings:
    try:
        return Settings()  # JWT_SECRET and the rest come from the environment
    except ValidationError as exc:
        # Refuse to start, naming the variables, never echoing their values.
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]).upper()
            sys.stderr.write(f"chat-api: invalid configuration: {field}: {err['msg']}\n")
        raise SystemExit(2) from None


class _Server(uvicorn.Server):
    """Two servers share one loop, so signals are handled once, by `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(settings: Settings) -> None:
    from chat_api.main import create_app, create_internal_app
    from chat_api.state import AppState

    state = AppState.build(settings)
    common = {"log_config": None, "access_log": False, "proxy_headers": True, "lifespan": "on"}
    public = _Server(
        uvicorn.Config(
            create_app(state, owns_state=False),
            host=settings.api_host,
            port=settings.api_port,
            forwarded_allow_ips="*",
            **common,  # type: ignore[arg-type]
        )
    )
    internal = _Server(
        uvicorn.Config(
            create_internal_app(state),
            host=settings.api_internal_host,
            port=settings.api_internal_port,
            **common,  # type: ignore[arg-type]
        )
    )
    # Everything imported and built so far lives as long as the process; a full collection
    # walked all of it (~60 ms, 136k objects), stalling every request in flight. Frozen
    # objects are skipped by the collector, which then only sees per-request garbage.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: _stop(state, public, internal))
    log.info(
        "api_starting",
        public_port=settings.api_port,
        internal_port=settings.api_internal_port,
        database=settings.database_url.split(":", 1)[0],
        redis=bool(settings.redis_url),
    )
    try:
        await asyncio.gather(public.serve(), internal.serve())
    finally:
        await state.close()


def _stop(state: AppState, *servers: uvicorn.Server) -> None:
    state.publisher.shutdown()  # open event streams end, or uvicorn would wait on them
    for server in servers:
        server.should_exit = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat_api")
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = _settings()
    configure_logging("chat-api", level=settings.log_level, json=settings.log_json)
    structlog.contextvars.bind_contextvars(environment=settings.environment)
    if args.command == "migrate":
        from chat_api.migrate import upgrade_head

        upgrade_head(settings.database_url)
        log.info("migrated", database=settings.database_url.split(":", 1)[0])
        return
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard] off Windows
        asyncio.run(_serve(settings))
        return
    # Both servers share one loop started here, so uvicorn's own loop="auto" never applies.
    uvloop.run(_serve(settings))


if __name__ == "__main__":
    main()
