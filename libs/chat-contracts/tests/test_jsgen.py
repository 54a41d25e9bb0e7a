"""The browser's protocol.js is the contracts' own output: regenerate it, or this fails."""

from __future__ import annotations

from pathlib import Path

from chat_contracts import jsgen, limits
from chat_contracts.frames import CLIENT_FRAME_TYPES, ErrorCode, ServerFrame

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL_JS = ROOT / "frontend/src/chat_frontend/static/js/protocol.js"


def test_committed_protocol_js_is_the_generated_one() -> None:
    """Any change to frames, limits or codes without `make protocol-js` fails here."""
    assert PROTOCOL_JS.read_text(encoding="utf-8") == jsgen.render()


def test_generated_module_names_every_frame_code_and_limit() -> None:
    """Every client and server frame type, error code and limit reaches the browser."""
    out = jsgen.render()
    for value in [*CLIENT_FRAME_TYPES, *ServerFrame, *ErrorCode]:
        assert f'"{value}"' in out
    assert f"CONTENT_MAX: {limits.CONTENT_MAX}," in out
