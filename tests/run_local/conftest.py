"""Fixtures for the `make run` tests: one default stack (SQLite, no Redis) per module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# run_local_support sits beside this file; until pyproject's pythonpath lists tests/run_local,
# put it there ourselves (a unique module name, so nothing else is shadowed).
from run_local_support import Stack, start_stack


def log_path(artifacts_dir: Path, name: str) -> Path:
    return artifacts_dir / "run-local" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.log"


@pytest.fixture
def stack_log(artifacts_dir: Path, request: pytest.FixtureRequest) -> Path:
    return log_path(artifacts_dir, request.node.name)


@pytest.fixture(scope="module")
def default_stack(artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`make run` with nothing configured, on free ports; the last test stops it with SIGINT."""
    stack = start_stack(
        tmp_path_factory.mktemp("run-local"), log_path(artifacts_dir, "default"), {}
    )
    try:
        stack.wait_for(r"ready -> open")
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.kill()
            stack.proc.wait()
