"""Before/after: two full runs of one sitting (a baseline checkout, then this one), figure by
figure, with the peers' figures from the same runs beside ours.

Absolute figures move with the machine (the same code gave 5,013 and 2,893 persisted msg/s
on two days), so the verdict is the ratio after/before of our own figures, and the peers'
ratios show how much of it is the machine drifting between the two runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

BUDGET = 0.10  # a feature may cost at most 10% on the message path

# (scenario, record key, label, higher is better, guarded: the message path's figures,
# which a change may make at most BUDGET worse)
FIGURES = (
    ("persist", "persisted_per_s", "persisted msg/s with acks", True, True),
    ("persist", "all_us_per_persisted", "all processes CPU µs per persisted msg", False, False),
    ("fanout-1x500", "server_us_per_delivered", "gateway CPU µs per delivered msg", False, True),
    ("fanout-1000", "server_us_per_delivered", "gateway CPU µs per delivered msg", False, True),
    ("fanout-1000", "all_us_per_delivered", "all processes CPU µs per delivered msg", False, False),
    ("replicas-2", "server_us_per_delivered", "gateway CPU µs per delivered msg", False, False),
)


def full_runs(path: Path, since: str = "") -> list[dict[str, Any]]:
    """Records of every full run in a results.jsonl whose run id (a UTC timestamp first) is
    not before `since`; `--only` runs count (they are full-size, of fewer scenarios)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    full = [r for r in rows if r.get("mode") == "full" and r["run_id"] >= since]
    if not full:
        raise ValueError(f"{path}: no full run recorded since {since or 'the start'}")
    return full


def _values(records: list[dict[str, Any]], scenario: str, target: str, key: str) -> list[float]:
    return [
        r[key]
        for r in records
        if r["scenario"] == scenario and r["target"] == target and r.get(key)
    ]


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str
    target: str
    before_values: tuple[float, ...]
    after_values: tuple[float, ...]
    higher_is_better: bool
    guarded: bool

    @property
    def before(self) -> float | None:
        return mean(self.before_values) if self.before_values else None

    @property
    def after(self) -> float | None:
        return mean(self.after_values) if self.after_values else None

    @property
    def ratio(self) -> float | None:
        return self.after / self.before if self.before and self.after else None

    @property
    def within_budget(self) -> bool | None:
        """After no worse than BUDGET below before (or above, for costs)."""
        r = self.ratio
        if r is None:
            return None
        return r >= 1 - BUDGET if self.higher_is_better else r <= 1 + BUDGET


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for scenario, key, label, higher, guarded in FIGURES:
        targets = dict.fromkeys(r["target"] for r in after if r["scenario"] == scenario)
        for target in targets:
            rows.append(
                Row(
                    scenario,
                    label,
                    target,
                    tuple(_values(before, scenario, target, key)),
                    tuple(_values(after, scenario, target, key)),
                    higher,
                    guarded and target == "ours",
                )
            )
    return rows


def _num(values: tuple[float, ...]) -> str:
    """The mean, and the range over rounds when there is more than one."""
    if not values:
        return "-"
    text = f"{mean(values):,.1f}"
    return text if len(values) == 1 else f"{text} ({min(values):,.1f}-{max(values):,.1f})"


def _runs(records: list[dict[str, Any]]) -> str:
    ids = list(dict.fromkeys(r["run_id"] for r in records))
    return ", ".join(f"`{i}`" for i in ids)


def _relative(rows: list[Row]) -> list[str]:
    """Ours over each peer, within each side: the machine's drift between runs cancels."""
    lines = [
        "| scenario | figure | ours / Socket.IO before | after | ours / floor before | after |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.target != "ours":
            continue
        peers = {p.target: p for p in rows if (p.scenario, p.label) == (r.scenario, r.label)}
        cells = []
        for peer in ("socketio", "floor"):
            other = peers.get(peer)
            for mine, theirs in (
                (r.before, other and other.before),
                (r.after, other and other.after),
            ):
                cells.append(f"{mine / theirs:.2f}" if mine and theirs else "-")
        if any(c != "-" for c in cells):
            lines.append(f"| {r.scenario} | {r.label} | " + " | ".join(cells) + " |")
    return lines


def markdown(title: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    rows = compare(before, after)
    a = after[0]
    lines = [
        f"## {title}",
        "",
        f"Generated by `python -m bench compare` from runs {_runs(before)} (before) and "
        f"{_runs(after)} (after), taken in one sitting on one machine ({a['host']}, "
        f"{a['cpus']} CPUs), interleaved when more than one each. Means over every round of "
        f"those runs. Guarded figures (the message path) may be at most {BUDGET:.0%} worse. "
        "The peers did not change, so their after/before is the machine's drift between the "
        "runs, and the second table (ours over the peers of the same runs) cancels it.",
        "",
        "| scenario | figure | target | before | after | after / before | within 10% |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = (
            "" if not r.guarded else {True: "yes", False: "**no**", None: "-"}[r.within_budget]
        )
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        was, now = _num(r.before_values), _num(r.after_values)
        lines.append(
            f"| {r.scenario} | {r.label} | {r.target} | {was} | {now} | {ratio} | {verdict} |"
        )
    return "\n".join([*lines, "", *_relative(rows)]) + "\n"
