"""App factories: the public app (under API_PREFIX) and the internal app (validate-token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from chat_api.errors import (
    RETRY_AFTER_SECONDS,
    DomainError,
    unavailable_reason,
    validation_detail,
)
from chat_api.metrics import MetricsMiddleware
from chat_api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from chat_api.routes import auth, health, internal, messages, rooms, users
from chat_api.schemas import ErrorOut
from chat_api.state import AppState

# Documented on every public route so clients (and schemathesis) know the error shapes.
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": ErrorOut}
    for code, text in (
        (400, "request body is not decodable (e.g. invalid UTF-8)"),
        (401, "missing, invalid, expired or revoked token"),
        (403, "not allowed (e.g. not a member of a public room, not the sender)"),
        (404, "not found, or a private room the caller cannot see"),
        (409, "conflict with existing state"),
        (413, "request body too large"),
        (429, "rate limited; see Retry-After"),
        (503, "database busy or unreachable; retry after Retry-After seconds"),
    )
}


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _static_path_without(request):
        # PATCH /rooms/public matched PATCH /rooms/{room_id}, but /rooms/public is a
        # resource of its own that has no PATCH: that is a 405, not a bad room id.
        return _method_not_allowed(request)
    return JSONResponse({"detail": validation_detail(exc.errors())}, status_code=422)


def _static_path_without(request: Request) -> bool:
    """The path is a literal route of the schema that does not serve this method."""
    operations = request.app.openapi()["paths"].get(request.url.path)
    return operations is not None and request.method.lower() not in operations


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    reason = unavailable_reason(exc)
    if reason is None:
        raise exc  # a genuine fault: the server error middleware logs it and answers 500
    # Shed at once instead of holding work past the caller's timeout; the caller retries.
    return JSONResponse(
        {"detail": reason},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    return _method_not_allowed(request)


def _method_not_allowed(request: Request) -> JSONResponse:
    # Starlette names only the first route that matched the path; RFC 9110 wants
    # every method the resource supports, which the schema knows.
    allowed: list[str] = []
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            allowed = sorted(m.upper() for m in operations)
            break
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)}
    )


def _common(app: FastAPI, state: AppState, max_body: int, prefix: str = "") -> FastAPI:
    app.state.chat = state
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_middleware(MetricsMiddleware, prefix=prefix)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body)
    app.add_middleware(RequestLogMiddleware)
    return app


def create_app(state: AppState, *, owns_state: bool = True) -> FastAPI:
    """Public routes under the prefix so the ingress forwards `/api` without rewriting."""
    settings = state.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_state:
            await state.close()

    prefix = settings.api_prefix
    app = FastAPI(
        title="Chat API",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=f"{prefix}/openapi.json",
        docs_url=f"{prefix}/docs",
        redoc_url=None,
    )
    for module in (auth, users, rooms, messages, health):
        app.include_router(module.router, prefix=prefix, responses=_ERRORS)
    if prefix:
        app.include_router(health.router)  # probes also at the root, where kubelet looks
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            # Not a CORS-safelisted response header: without this a page on another origin
            # (make run) reads null and the login page cannot say how long a 429 lasts.
            expose_headers=["Retry-After"],
        )
    return _common(app, state, settings.max_body_bytes, prefix)


def create_internal_app(state: AppState) -> FastAPI:
    app = FastAPI(title="Chat API (internal)", version="1.0.0", docs_url=None, redoc_url=None)
    app.include_router(internal.router)
    app.include_router(health.router)
    return _common(app, state, state.settings.internal_max_body_bytes)
