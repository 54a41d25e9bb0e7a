"""`python -m bench run` (full, writes bench/RESULTS.md), `python -m bench smoke` (< 60 s), and
`python -m bench compare --before FILE` (a baseline checkout's run against this one's)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.compare import full_runs, markdown
from bench.profile import start_sampler, summarise
from bench.report import BEFORE_AFTER_MD, RESULTS_DIR, append_jsonl, table, write_markdown
from bench.runner import HarnessError, failed_record, run_one
from bench.scenarios import FULL, SMOKE, Plan
from bench.servers import Stack
from bench.targets import target_lines


def _node_version() -> str:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        return f"Node {out.stdout.strip()}"
    except OSError:
        return "node missing"


def _harness_problems(plan: Plan, records: list[dict[str, Any]]) -> list[str]:
    """Smoke checks: the harness works end to end (no timing judgements)."""
    problems = []
    expected = {(s.name, t) for s in plan.scenarios for t in s.targets}
    got = {(r["scenario"], r["target"]) for r in records}
    problems += [f"{s}/{t}: no record" for s, t in sorted(expected - got)]
    for r in records:
        where = f"{r['scenario']}/{r['target']}"
        if r["setup_failed"]:
            problems.append(f"{where}: {r['setup_failed']} sockets failed: {r['problems']}")
        if r["kind"] == "fanout" and (r["sent"] == 0 or r["delivered"] == 0):
            problems.append(f"{where}: sent {r['sent']}, delivered {r['delivered']}")
        if r["kind"] == "persist" and r["acks"] == 0:
            problems.append(f"{where}: no acks ({r['nacks']} nacks)")
    return problems


async def _run(plan: Plan, only: set[str] | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    log_dir = RESULTS_DIR / "logs" / run_id
    stack = Stack(log_dir)
    run: dict[str, Any] = {
        "run_id": run_id,
        "mode": plan.label,
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "node": _node_version(),
        "loadavg_start": os.getloadavg()[0],
    }
    records: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        stack.start(plan.replicas)
        await stack.ensure_users(plan.users)
        up = time.monotonic() - started
        print(f"[bench] {plan.label}: servers up, {plan.users} users ({up:.0f} s)", flush=True)
        for sc in plan.scenarios:
            if only and sc.name not in only:
                continue
            for rnd in range(sc.rounds):
                # Rotate the order each round so no target always runs first (or warmest).
                order = sc.targets[rnd % len(sc.targets) :] + sc.targets[: rnd % len(sc.targets)]
                for target in order:
                    t = time.monotonic()
                    try:
                        rec = await run_one(stack, plan, sc, target, rnd)
                    except HarnessError as exc:
                        if plan.label == "smoke":
                            raise
                        rec = failed_record(sc, target, rnd, str(exc))
                    records.append(rec)
                    append_jsonl(run, [rec])
                    stack.trim_replicas(target, plan.replicas)
                    if target == "ours" and (rec["unacked"] or rec["setup_failed"]):
                        stack.restart_replicas(target)
                    print(
                        f"[bench] {sc.name} {target} r{rnd}: {time.monotonic() - t:.0f} s "
                        f"delivered={rec['delivered']}/{rec['expected']} "
                        f"p99={rec.get('lat_p99_ms')} "
                        f"µs/deliv={rec.get('server_us_per_delivered')} "
                        f"kib/sock={rec.get('rss_per_socket_kib')} acks={rec['acks']} "
                        f"unacked={rec['unacked']} fail={rec['setup_failed']}",
                        flush=True,
                    )
    finally:
        stack.stop()
        run["elapsed_s"] = time.monotonic() - started
        run["loadavg_end"] = os.getloadavg()[0]
        run["logs"] = str(log_dir)
    return records, run


def _plan_lines(plan: Plan, records: list[dict[str, Any]]) -> list[str]:
    idle = {r["scenario"]: r["sockets"] for r in records if r["kind"] == "idle"}
    lines = []
    for s in plan.scenarios:
        what = s.what
        if s.kind == "idle" and idle and s.name not in idle:
            name, count = next(iter(idle.items()))
            s, what = dataclasses.replace(s, name=name), f"(c) {count:,} idle sockets, 1 replica"
        lines.append(f"- `{s.name}`: {what}; targets {', '.join(s.targets)}; {s.rounds} round(s)")
    return lines


def _rewrite_markdown() -> int:
    """Rebuild RESULTS.md from the last full run in results.jsonl (e.g. after editing
    bench/analysis.md), without running anything."""
    path = RESULTS_DIR / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("mode") == "full":
            by_run.setdefault(r["run_id"], []).append(r)
    # Not a `--only` run: one of every scenario.
    whole = [
        k for k, recs in by_run.items() if len({r["scenario"] for r in recs}) >= len(FULL.scenarios)
    ]
    if not whole:
        print("[bench] no complete full run recorded yet", file=sys.stderr)
        return 1
    last = whole[-1]
    records = by_run[last]
    run_keys = (
        "run_id",
        "mode",
        "started",
        "host",
        "cpus",
        "node",
        "loadavg_start",
        "loadavg_end",
        "elapsed_s",
        "logs",
    )
    run = {k: records[0].get(k) for k in run_keys}
    write_markdown(run, _plan_lines(FULL, records), records, target_lines(records))
    print(f"[bench] wrote bench/RESULTS.md from run {last}")
    return 0


async def _profile(plan: Plan, name: str) -> int:
    """One scenario against our gateway with py-spy on the replica and the API."""
    sc = next(s for s in plan.scenarios if s.name == name)
    out_dir = RESULTS_DIR / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(RESULTS_DIR / "logs" / "profile")
    samplers: list[tuple[Path, subprocess.Popen[bytes] | None]] = []
    try:
        stack.start(plan.replicas)
        await stack.ensure_users(plan.users)
        gw, api = stack.targets["ours"].replicas[0].proc.pid, stack.api.pid if stack.api else 0

        def attach() -> None:
            for label, pid in (("gateway", gw), ("api", api)):
                path = out_dir / f"{name}-{label}.txt"
                samplers.append((path, start_sampler(pid, sc.duration, path)))

        rec = await run_one(stack, plan, sc, "ours", 0, on_go=attach)
        for _, proc in samplers:
            if proc is not None:
                proc.wait(timeout=sc.duration + 60)
    finally:
        stack.stop()
    print(table([rec]))
    for path, proc in samplers:
        print(summarise(path) if proc is not None and path.exists() else f"{path}: no py-spy")
    return 0


def _compare(before: Path, title: str) -> int:
    """bench/before-after.md from every full run in `before` (a baseline checkout's
    results.jsonl) and every one here since the first of those (the same sitting), then
    RESULTS.md again with it."""
    base = full_runs(before)
    after = full_runs(RESULTS_DIR / "results.jsonl", since=min(r["run_id"] for r in base))
    BEFORE_AFTER_MD.write_text(markdown(title, base, after))
    print(BEFORE_AFTER_MD.read_text())
    return _rewrite_markdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("mode", choices=("run", "smoke", "profile", "report", "compare"))
    parser.add_argument("--only", nargs="*", help="scenario names to run (default: all)")
    parser.add_argument("--no-markdown", action="store_true", help="do not rewrite RESULTS.md")
    parser.add_argument("--idle", type=int, help="sockets in the idle scenario (default 10,000)")
    parser.add_argument("--before", type=Path, help="compare: the baseline's results.jsonl")
    parser.add_argument("--title", default="Before / after", help="compare: section heading")
    args = parser.parse_args(argv)
    plan = FULL if args.mode == "run" else SMOKE
    if args.idle:
        scenarios = tuple(
            dataclasses.replace(s, sockets=args.idle, name=f"idle-{args.idle}")
            if s.kind == "idle"
            else s
            for s in plan.scenarios
        )
        plan = dataclasses.replace(plan, scenarios=scenarios)
    only = set(args.only) if args.only else None
    if args.mode == "report":
        return _rewrite_markdown()
    if args.mode == "compare":
        if args.before is None:
            parser.error("compare needs --before FILE")
        return _compare(args.before, args.title)
    if args.mode == "profile":
        return asyncio.run(_profile(FULL, (args.only or ["fanout-1000"])[0]))
    try:
        records, run = asyncio.run(_run(plan, only))
    except (HarnessError, RuntimeError, TimeoutError, OSError) as exc:
        print(f"[bench] harness failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(records))
    print(
        f"\n[bench] {len(records)} records appended to {RESULTS_DIR / 'results.jsonl'} "
        f"({run['elapsed_s']:.0f} s)"
    )
    if args.mode == "smoke":
        problems = _harness_problems(plan, records)
        for p in problems:
            print(f"[bench] smoke problem: {p}", file=sys.stderr)
        return 1 if problems else 0
    if not args.no_markdown and not only:
        write_markdown(run, _plan_lines(plan, records), records, target_lines(records))
        print("[bench] wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
