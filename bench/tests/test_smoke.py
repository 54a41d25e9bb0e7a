"""The bench harness runs end to end in smoke mode (tiny sizes; no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / ".results" / "results.jsonl"


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_smoke_mode_runs_every_scenario_and_target() -> None:
    """`python -m bench smoke` exits 0 and appends one record per scenario x target."""
    before = _run_ids()
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Other bench runs may append to the same file meanwhile: look at new smoke runs only.
    runs: dict[str, set[tuple[str, str]]] = {}
    for r in _records():
        if r["run_id"] not in before and r["mode"] == "smoke":
            runs.setdefault(r["run_id"], set()).add((r["scenario"], r["target"]))
    assert runs, "the smoke run appended no records"
    want = {("fanout", "ours"), ("fanout", "socketio"), ("fanout", "floor"), ("persist", "ours")}
    assert any(want <= pairs for pairs in runs.values()), runs


def _records() -> list[dict[str, Any]]:
    if not RESULTS.exists():
        return []
    return [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]


def _run_ids() -> set[str]:
    return {str(r["run_id"]) for r in _records()}
