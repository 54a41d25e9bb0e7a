"""The shared logging setup: JSON lines, secrets redacted, levels filtered up front."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from chat_contracts.logging import REDACTED, configure_logging


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]


def test_json_line_with_service_and_redaction(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("svc-a", level="INFO")
    jwt = "eyJhbGciOi.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3g"
    structlog.get_logger("t").info("hello", token="abc", note=f"got {jwt} here")
    (line,) = _lines(capsys)
    assert line["event"] == "hello" and line["service"] == "svc-a" and line["level"] == "info"
    assert line["token"] == REDACTED and jwt not in line["note"] and REDACTED in line["note"]


def test_calls_below_the_level_never_reach_the_processors(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("svc-b", level="WARNING")
    seen: list[str] = []
    processors = structlog.get_config()["processors"]
    # A spy in front of the chain's second step: filtered calls must stop before it.
    spy_index = 1

    def spy(_l: Any, _m: str, event: Any) -> Any:
        seen.append(event["event"])
        return event

    structlog.configure(processors=[*processors[:spy_index], spy, *processors[spy_index:]])
    log = structlog.get_logger("t")
    log.info("dropped")
    log.warning("kept")
    assert seen == ["kept"]
    assert [line["event"] for line in _lines(capsys)] == ["kept"]


def test_console_colours_follow_no_color(
    restore_logging: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console renderer colours by default and never when NO_COLOR is set (no-color.org)."""
    for value, coloured in (("", True), ("1", False)):
        monkeypatch.setenv("NO_COLOR", value)
        configure_logging("svc-c", level="INFO", json=False)
        structlog.get_logger("t").info("hello")
        assert ("\x1b[" in capsys.readouterr().err) is coloured


def test_uvicorn_lifecycle_lines_once_per_process(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two uvicorn servers in one process: their identical lifecycle lines print once,
    the per-port line for each port."""
    configure_logging("svc-d", level="INFO")
    uvicorn_log = logging.getLogger("uvicorn.error")
    for port in (8000, 8001):
        uvicorn_log.info("Started server process [%d]", 42)
        uvicorn_log.info("Application startup complete.")
        uvicorn_log.info("Uvicorn running on %s", f"http://127.0.0.1:{port}")
    assert [line["event"] for line in _lines(capsys)] == [
        "Started server process [42]",
        "Application startup complete.",
        "Uvicorn running on http://127.0.0.1:8000",
        "Uvicorn running on http://127.0.0.1:8001",
    ]
