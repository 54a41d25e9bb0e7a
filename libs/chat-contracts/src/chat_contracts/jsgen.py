"""Writes the browser's protocol module (frontend .../static/js/protocol.js) from the
contracts: frame types both ways, limits, error and close codes, event types, the wire
version. `make protocol-js` regenerates it; libs/chat-contracts/tests/test_jsgen.py fails
when the committed file and this output differ, so the browser cannot drift."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from chat_contracts import limits
from chat_contracts.events import EventType
from chat_contracts.frames import (
    CLIENT_FRAME_TYPES,
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    ServerFrame,
)

HEADER = (
    "// Generated from libs/chat-contracts by `make protocol-js`; do not edit.\n"
    "// The Python contracts are the source: change them and regenerate.\n"
)


def _const(name: str, pairs: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"  {key}: {json.dumps(value)},\n" for key, value in pairs)
    return f"export const {name} = Object.freeze({{\n{body}}});\n"


def _enum(name: str, enum: type[StrEnum]) -> str:
    return _const(name, ((member.name, member.value) for member in enum))


def render() -> str:
    limit_pairs = [(k, v) for k, v in vars(limits).items() if k.isupper()]
    close_pairs = [(k, v) for k, v in vars(CloseCode).items() if k.isupper()]
    client = [(t.upper(), t) for t in CLIENT_FRAME_TYPES]
    parts = [
        HEADER,
        f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n",
        _const("LIMITS", limit_pairs),
        _const("CLIENT_FRAMES", client),
        _enum("SERVER_FRAMES", ServerFrame),
        _enum("EVENTS", EventType),
        _enum("ERROR_CODES", ErrorCode),
        _const("CLOSE_CODES", close_pairs),
    ]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m chat_contracts.jsgen <protocol.js>", file=sys.stderr)
        return 2
    Path(argv[1]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
