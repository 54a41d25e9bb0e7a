"""The bench harness runs end to end in smoke mode (tiny sizes; no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / ".results" / "results.jsonl"


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_smoke_mode_runs_every_scenario_and_target() -> None:
    """`python -m bench smoke` exits 0 and appends one record per scenario x target."""
    before = RESULTS.read_text().count("\n") if RESULTS.exists() else 0
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = RESULTS.read_text().splitlines()[before:]
    records = [json.loads(line) for line in lines]
    pairs = {(r["scenario"], r["target"]) for r in records}
    assert ("fanout", "ours") in pairs and ("fanout", "socketio") in pairs
    assert ("fanout", "floor") in pairs and ("persist", "ours") in pairs
    assert all(r["mode"] == "smoke" for r in records)
