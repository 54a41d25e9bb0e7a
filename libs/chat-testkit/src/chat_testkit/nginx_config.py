"""Render deploy/nginx/chat.conf.template (the chart Ingress's stand-in) into a runnable
nginx.conf; `chat_testkit.nginx.Nginx` runs it.

    from chat_testkit.nginx_config import render
    conf = render(LISTEN_PORT=8081, FRONTEND_UPSTREAM="127.0.0.1:8080",
                  API_UPSTREAM="127.0.0.1:8000",
                  GATEWAY_UPSTREAMS=["127.0.0.1:8765", "127.0.0.1:8766"])

Upstreams are "host:port" strings. GATEWAY_UPSTREAMS takes one string or a sequence
(2+ replicas). TLS_CERTIFICATE and TLS_CERTIFICATE_KEY (PEM paths, both or neither) make
the listener terminate TLS. Unknown names and placeholders left without a value raise, so
a template edit cannot silently produce a config that routes nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

# The template stays in deploy/nginx, where the chart's README points; this package is
# installed editable from the workspace (libs/chat-testkit/src/chat_testkit/ -> root).
TEMPLATE = Path(__file__).resolve().parents[4] / "deploy" / "nginx" / "chat.conf.template"

# Optional placeholders; paths are relative to nginx's -p prefix directory.
DEFAULTS: dict[str, object] = {
    "LISTEN_ADDRESS": "127.0.0.1",
    "WS_TIMEOUT_SECONDS": 3600,
    "ACCESS_LOG": "logs/access.log",
    "ERROR_LOG": "logs/error.log",
    "PID_FILE": "logs/nginx.pid",
}

# Inputs that are not placeholders themselves: render() turns them into the derived ones.
TLS_INPUTS = ("TLS_CERTIFICATE", "TLS_CERTIFICATE_KEY")
TLS_DERIVED = ("LISTEN_TLS", "TLS_SETTINGS")
# Protocols as ingress-nginx's default ssl-protocols; h2 as its default use-http2.
TLS_BLOCK = """\
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:chat_tls:1m;
        ssl_session_timeout 10m;
"""

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.:\[\]-]+:[0-9]{1,5}$")
# No spaces, quotes or ";": a path cannot end the directive and add another.
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]+$")


def _upstream(name: str, value: object) -> str:
    text = str(value)
    if not _HOST_PORT.match(text):
        raise ValueError(f"{name} must be host:port, got {text!r}")
    return text


def _servers(value: object) -> str:
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise TypeError("GATEWAY_UPSTREAMS takes a host:port string or a sequence of them")
    if not items:
        raise ValueError("GATEWAY_UPSTREAMS needs at least one host:port")
    return "\n".join(f"        server {_upstream('GATEWAY_UPSTREAMS', i)};" for i in items)


def _tls(values: dict[str, object]) -> dict[str, str]:
    """The derived TLS placeholders from the TLS_* inputs (plain http when both are absent)."""
    given = [values.pop(name, None) for name in TLS_INPUTS]
    if not any(given):
        return {"LISTEN_TLS": "", "TLS_SETTINGS": ""}
    if not all(given):
        raise KeyError(f"{' and '.join(TLS_INPUTS)} go together")
    for path in given:
        if not _SAFE_PATH.match(str(path)):
            raise ValueError(f"TLS file paths must be plain absolute paths, got {path!r}")
    cert, key = (str(path) for path in given)
    return {"LISTEN_TLS": " ssl http2", "TLS_SETTINGS": TLS_BLOCK.format(cert=cert, key=key)}


def render(template_path: Path | str = TEMPLATE, /, **values: object) -> str:
    """Return the template with every ${NAME} substituted; raise on unknown or missing names."""
    text = Path(template_path).read_text()
    needed = set(_PLACEHOLDER.findall(text))
    unknown = set(values) - (needed - set(TLS_DERIVED)) - set(TLS_INPUTS)
    if unknown:
        raise KeyError(f"not placeholders of {template_path}: {sorted(unknown)}")
    values = dict(values)
    merged = {**DEFAULTS, **_tls(values), **values}
    missing = needed - set(merged)
    if missing:
        raise KeyError(f"missing values for {sorted(missing)}")
    rendered: dict[str, str] = {}
    for name in needed:
        value = merged[name]
        if name == "GATEWAY_UPSTREAMS":
            rendered[name] = _servers(value)
        elif name in TLS_DERIVED:
            rendered[name] = str(value)
        elif name.endswith("_UPSTREAM"):
            rendered[name] = _upstream(name, value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            raise TypeError(f"{name} takes one value, got a sequence")
        else:
            rendered[name] = str(value)
    return _PLACEHOLDER.sub(lambda m: rendered[m.group(1)], text)
