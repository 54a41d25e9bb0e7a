"""App factories: the public site (pages + static assets) and the ops app (health, metrics)."""

from __future__ import annotations

import mimetypes
import time
from pathlib import Path

import structlog
from chat_contracts.logging import request_log_level
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_frontend.config import Settings, get_settings
from chat_frontend.metrics import MetricsMiddleware, render_metrics
from chat_frontend.security import SecurityHeadersMiddleware

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

# Module scripts are refused with a wrong MIME type; do not depend on /etc/mime.types.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")

PAGES: dict[str, tuple[str, str]] = {
    # path: (template, page title); the chat page is titled "Chat" alone, and its script
    # names the open room ("#general · Chat"), so no "Chat · Chat".
    "/": ("chat.html", ""),
    "/login": ("login.html", "Sign in"),
    "/register": ("register.html", "Create account"),
    "/profile": ("profile.html", "Profile"),
}

log = structlog.get_logger("chat_frontend")


class RequestLogMiddleware:
    """One structured line per request; the path only (no query string can leak)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            log.log(
                request_log_level(scope["path"]),
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - start) * 1000, 1),
            )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="chat-frontend", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    browser_config = settings.browser_config()

    def page_handler(template: str, title: str, page: str):  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> HTMLResponse:
            response = templates.TemplateResponse(
                request,
                template,
                {"title": title, "page": page, "config": {**browser_config, "page": page}},
            )
            # Pages are tiny and carry runtime config: never serve a stale copy.
            response.headers["Cache-Control"] = "no-store"
            return response

        return handler

    for path, (template, title) in PAGES.items():
        page = template.removesuffix(".html")
        app.add_api_route(
            path,
            page_handler(template, title, page),
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
            name=f"page_{page}",
        )

    @app.get("/chat", include_in_schema=False)
    async def chat_alias() -> RedirectResponse:
        return RedirectResponse("/", status_code=308)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=308)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(MetricsMiddleware, router_app=app)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(RequestLogMiddleware)
    return app


def create_ops_app() -> FastAPI:
    """Health and metrics on a port the ingress never routes."""
    app = FastAPI(title="chat-frontend-ops", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        # The frontend has no backing services; ready means our assets are on disk
        # and the process is not shutting down.
        state = getattr(request.app.state, "draining", False)
        if state or not (TEMPLATES_DIR / "chat.html").is_file() or not STATIC_DIR.is_dir():
            return PlainTextResponse("not ready", status_code=503)
        return PlainTextResponse("ok")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)

    return app
