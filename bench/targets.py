"""Issue 6's targets, checked against one run's records (figures, not asserts)."""

from __future__ import annotations

from typing import Any

Rec = dict[str, Any]


def _pick(records: list[Rec], scenario: str, target: str, key: str) -> list[float]:
    return [
        float(r[key])
        for r in records
        if r["scenario"] == scenario and r["target"] == target and r.get(key) is not None
    ]


def _ratio(records: list[Rec], scenario: str, peer: str) -> list[float]:
    key = "server_us_per_delivered"
    out = []
    for r in records:
        if r["scenario"] == scenario and r["target"] == "ours" and r.get(key):
            for o in records:
                same = o["scenario"] == scenario and o["round"] == r["round"]
                if same and o["target"] == peer and o.get(key):
                    out.append(r[key] / o[key])
    return out


def _fmt(vals: list[float], unit: str = "") -> str:
    if not vals:
        return "not measured"
    lo, hi = min(vals), max(vals)
    text = f"{lo:,.2f}" if abs(hi - lo) < 0.005 else f"{lo:,.2f}-{hi:,.2f}"
    return text + unit


def _verdict(vals: list[float], ok: bool) -> str:
    return "n/a" if not vals else ("met" if ok else "**not met**")


def target_lines(records: list[Rec]) -> list[str]:
    rows = []
    for scenario in ("fanout-1x500", "fanout-1000"):
        vs_peer = _ratio(records, scenario, "socketio")
        vs_floor = _ratio(records, scenario, "floor")
        rows.append(
            (
                f"CPU per delivered message vs Socket.IO peer ({scenario})",
                "≤ 0.8x",
                _fmt(vs_peer, "x"),
                _verdict(vs_peer, bool(vs_peer) and max(vs_peer) <= 0.8),
            )
        )
        rows.append(
            (
                f"CPU per delivered message vs floor ({scenario})",
                "≤ 1.5x",
                _fmt(vs_floor, "x"),
                _verdict(vs_floor, bool(vs_floor) and max(vs_floor) <= 1.5),
            )
        )
    p99 = _pick(records, "fanout-1000", "ours", "lat_p99_ms")
    rows.append(
        (
            "p99 at 1,000 sockets, 500 msg/s, with persistence",
            "≤ 50 ms",
            _fmt(p99, " ms"),
            _verdict(p99, bool(p99) and max(p99) <= 50),
        )
    )
    persisted = _pick(records, "persist", "ours", "persisted_per_s")
    rows.append(
        (
            "persisted msg/s with acks",
            "≥ 3,000/s",
            _fmt(persisted, "/s"),
            _verdict(persisted, bool(persisted) and min(persisted) >= 3000),
        )
    )
    idle = [r for r in records if r["kind"] == "idle" and r["target"] == "ours"]
    rss = [float(r["rss_per_socket_kib"]) for r in idle if r.get("rss_per_socket_kib")]
    count = f"{idle[0]['setup_ok']:,}" if idle else "10,000"
    rows.append(
        (
            f"RSS per idle socket, {count} sockets on one replica (goal stated at 10,000)",
            "≤ 30 KiB",
            _fmt(rss, " KiB"),
            _verdict(rss, bool(rss) and max(rss) <= 30),
        )
    )
    lines = ["| target | goal | this run | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return lines
