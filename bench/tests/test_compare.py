"""`python -m bench compare`: figures of two runs side by side and the 10% verdict, from
records (no run: these are the report's rules, not timings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.compare import compare, full_runs, markdown

OLD, BEFORE, AFTER = "20261130T090000Z-0a", "20261201T190000Z-0b", "20261201T191000Z-0c"
RUN = {"mode": "full", "started": "2026-12-01 19:40 UTC", "host": "vm", "cpus": 2}


def _rec(run_id: str, scenario: str, target: str, rnd: int, **figures: float) -> dict[str, Any]:
    return {
        **RUN,
        "run_id": run_id,
        "loadavg_start": 0.2,
        "scenario": scenario,
        "target": target,
        "round": rnd,
        **figures,
    }


def _records(run_id: str, persisted: float, us: tuple[float, float]) -> list[dict[str, Any]]:
    return [
        _rec(run_id, "persist", "ours", 0, persisted_per_s=persisted),
        _rec(run_id, "fanout-1x500", "ours", 0, server_us_per_delivered=us[0]),
        _rec(run_id, "fanout-1x500", "ours", 1, server_us_per_delivered=us[1]),
        _rec(run_id, "fanout-1x500", "socketio", 0, server_us_per_delivered=20.0),
    ]


def _row(rows: list[Any], scenario: str, target: str) -> Any:
    return next(r for r in rows if r.scenario == scenario and r.target == target)


def test_means_over_rounds_and_the_budget_in_both_directions() -> None:
    """Throughput may drop at most 10%, cost may rise at most 10%; peers get no verdict."""
    before = _records("b", persisted=2000.0, us=(10.0, 12.0))
    rows = compare(before, _records("a", persisted=1850.0, us=(12.0, 12.2)))
    persist, fanout = _row(rows, "persist", "ours"), _row(rows, "fanout-1x500", "ours")
    assert (persist.ratio, persist.within_budget) == (pytest.approx(0.925), True)
    assert (fanout.before, fanout.after) == (11.0, 12.1)
    assert fanout.within_budget is True  # exactly +10%
    worse = compare(before, _records("a", persisted=1700.0, us=(13.0, 13.0)))
    assert _row(worse, "persist", "ours").within_budget is False
    assert _row(worse, "fanout-1x500", "ours").within_budget is False
    assert not _row(worse, "fanout-1x500", "socketio").guarded


def test_markdown_names_both_runs_and_marks_a_miss(tmp_path: Path) -> None:
    """The section names both sides' runs; a miss is bold; smoke runs and runs before the
    sitting are left out."""
    path = tmp_path / "results.jsonl"
    old = _records(OLD, persisted=1.0, us=(1.0, 1.0))
    smoke = [{**r, "mode": "smoke", "run_id": "s"} for r in old]
    before = _records(BEFORE, persisted=2000.0, us=(10.0, 10.0))
    path.write_text("".join(json.dumps(r) + "\n" for r in old + before + smoke))
    assert {r["run_id"] for r in full_runs(path, since=BEFORE)} == {BEFORE}
    assert {r["run_id"] for r in full_runs(path)} == {OLD, BEFORE}
    text = markdown(
        "Issue 12", full_runs(path, since=BEFORE), _records(AFTER, 1000.0, (10.0, 10.0))
    )
    assert text.startswith("## Issue 12\n") and f"`{BEFORE}`" in text and f"`{AFTER}`" in text
    assert (
        "| persist | persisted msg/s with acks | ours | 2,000.0 | 1,000.0 | 0.50 | **no** |" in text
    )
    assert (
        "| fanout-1x500 | gateway CPU µs per delivered msg | ours "
        "| 10.0 (10.0-10.0) | 10.0 (10.0-10.0) | 1.00 | yes |" in text
    )
    # Ours over the Socket.IO peer of the same side: 10/20 before and after; no floor here.
    assert "| fanout-1x500 | gateway CPU µs per delivered msg | 0.50 | 0.50 | - | - |" in text
