"""Security headers on every page and asset: strict CSP, no framing, no referrer, and HSTS
on HTTPS responses when configured."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_frontend.config import Settings

# A Host header we are willing to echo into CSP: hostname or [v6] plus optional port.
_SAFE_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"


def build_csp(extra_connect: list[str], page_ws: str | None) -> str:
    """connect-src: the page's own origin, the configured API/WS origins and, for a relative
    WS URL, the page's own host under the page's socket scheme (wss:// on HTTPS, never ws://).
    """
    connect = ["'self'", *extra_connect]
    if page_ws:
        # CSP3 lets 'self' cover the socket to the same host, older engines (Safari < 15.4)
        # do not: name it, with the one scheme the page can use.
        connect.append(page_ws)
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


def request_facts(scope: Scope) -> tuple[str | None, bool]:
    """(Host header, whether the browser's page is HTTPS) of one request.

    Behind an ingress the scheme comes from its X-Forwarded-Proto: uvicorn applies that
    header only from FORWARDED_ALLOW_IPS (loopback by default, not the ingress pod). Trusting
    it here is safe: it only chooses wss:// or ws:// to the request's own Host, and whether
    HSTS is sent, in the response to the same request (pages are never cached).
    """
    host, proto = None, None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = scope.get("scheme", "http")
    return host, proto == "https"


class SecurityHeadersMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming static files stay cheap."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.connect_origins = settings.connect_origins()
        self.ws_on_page_host = settings.ws_on_page_host
        self.hsts = settings.hsts()

    def headers_for(self, scope: Scope) -> dict[str, str]:
        host, https = request_facts(scope)
        page_ws = None
        if self.ws_on_page_host and host and _SAFE_HOST.match(host):
            page_ws = f"{'wss' if https else 'ws'}://{host}"
        headers = {
            "Content-Security-Policy": build_csp(self.connect_origins, page_ws),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": PERMISSIONS_POLICY,
        }
        # RFC 6797 7.2: never over plain http (a browser ignores it there anyway).
        if self.hsts and https:
            headers["Strict-Transport-Security"] = self.hsts
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
