"""Security headers on every page and asset: strict CSP, no framing, no referrer."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A Host header we are willing to echo into CSP: hostname or [v6] plus optional port.
_SAFE_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def build_csp(extra_connect: list[str], host: str | None) -> str:
    connect = ["'self'", *extra_connect]
    if host and _SAFE_HOST.match(host):
        # CSP3 lets 'self' cover ws(s) to the same host, older engines (Safari < 15.4) do not.
        connect += [f"ws://{host}", f"wss://{host}"]
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming static files stay cheap."""

    def __init__(self, app: ASGIApp, *, connect_origins: list[str]) -> None:
        self.app = app
        self.connect_origins = connect_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
                break
        csp = build_csp(self.connect_origins, host)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = csp
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
            await send(message)

        await self.app(scope, receive, send_with_headers)
