"""Run one scenario against one target: spawn the client processes, measure the servers."""

from __future__ import annotations

import multiprocessing as mp
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench.loadgen import SETUP_TIMEOUT, SocketSpec, WorkerSpec, worker_main
from bench.procstat import CpuMeter, rss_bytes
from bench.report import percentiles
from bench.scenarios import Plan, Scenario
from bench.servers import Stack

_ctx = mp.get_context("spawn")  # clean interpreters: nothing of the parent's state is copied


class HarnessError(RuntimeError):
    """The harness itself failed (as opposed to a server being slow)."""


def _recv(pipe: Connection, timeout: float, what: str) -> Any:
    if not pipe.poll(timeout):
        raise HarnessError(f"load generator silent for {timeout:.0f}s waiting for {what}")
    return pipe.recv()


async def _prepare(stack: Stack, plan: Plan, sc: Scenario, target: str) -> list[SocketSpec]:
    tgt = stack.targets[target]
    stack.ensure_replicas(target, sc.replicas)
    rooms = list(range(sc.rooms))
    tokens = [""] * plan.users
    if target == "ours":
        await stack.refresh_tokens()
        pairs = {(i % plan.users, sc.room_of(i)) for i in range(sc.sockets)}
        rooms = await stack.ensure_rooms(sc.rooms, pairs)
        tokens = stack.tokens
    return [
        SocketSpec(
            index=i,
            url=tgt.replicas[sc.replica_of(i)].url,
            room=rooms[sc.room_of(i)],
            token=tokens[i % plan.users],
        )
        for i in range(sc.sockets)
    ]


def _settled_rss(pids: list[int], limit: float = 15.0) -> int:
    """RSS once it stops growing (sockets finish their handshakes' allocations), bounded."""
    deadline, last = time.monotonic() + limit, -1
    while time.monotonic() < deadline:
        now = sum(rss_bytes(p) for p in pids)
        if last >= 0 and abs(now - last) <= 0.002 * max(now, 1):
            return now
        last = now
        time.sleep(1.0)  # polling the server's own counter with a deadline
    return last


async def run_one(
    stack: Stack,
    plan: Plan,
    sc: Scenario,
    target: str,
    rnd: int,
    on_go: Callable[[], None] | None = None,
) -> dict[str, Any]:
    specs = await _prepare(stack, plan, sc, target)
    tgt = stack.targets[target]
    server_pids = tgt.pids(sc.replicas)
    w = max(1, min(plan.workers, sc.sockets))
    senders = [sc.senders // w + (1 if k < sc.senders % w else 0) for k in range(w)]
    workers = [
        WorkerSpec(
            worker=k,
            target=target,
            kind=sc.kind,
            sockets=specs[k::w],
            rate=sc.rate / w,
            duration=sc.duration,
            drain=plan.drain,
            window=sc.window,
            senders=senders[k],
        )
        for k in range(w)
    ]
    rss_before = _settled_rss(server_pids) if sc.kind == "idle" else 0
    setup_meter = CpuMeter(server_pids + tgt.backend_pids)
    setup_meter.start()
    setup_started = time.monotonic()
    pipes, procs = [], []
    for spec in workers:
        parent, child = _ctx.Pipe()
        proc = _ctx.Process(target=worker_main, args=(child, spec), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    try:
        ready = [_recv(p, SETUP_TIMEOUT + 60, "ready")[1] for p in pipes]
        setup_s, setup_cpu = time.monotonic() - setup_started, setup_meter.stop()
        ok = sum(r["ok"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        samples = [s for r in ready for s in r["sample"]]
        if ok == 0:
            raise HarnessError(f"{target}/{sc.name}: no socket connected: {samples[:2]}")
        rss_after = _settled_rss(server_pids) if sc.kind == "idle" else 0
        server, backend = CpuMeter(server_pids), CpuMeter(tgt.backend_pids)
        client = CpuMeter([p.pid for p in procs if p.pid is not None])
        for meter in (server, backend, client):
            meter.start()
        if on_go is not None:
            on_go()  # e.g. attach a sampling profiler for exactly the measured window
        t0 = time.monotonic() + 0.1
        for p in pipes:
            p.send(("go", t0))
        if sc.kind == "idle":
            for p in pipes:
                p.send(("stop", 0.0))
        done = [_recv(p, sc.duration + plan.drain + 120, "results")[1] for p in pipes]
        window = time.monotonic() - t0
        cpu_server, cpu_backend, cpu_client = server.stop(), backend.stop(), client.stop()
        for p in pipes:
            if sc.kind != "idle":
                p.send(("stop", 0.0))
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return _summarise(
        sc,
        target,
        rnd,
        specs,
        done,
        ok=ok,
        failed=failed,
        samples=samples,
        window=window,
        cpu=(cpu_server, cpu_backend, cpu_client),
        rss=(rss_before, rss_after),
    ) | {
        "setup_s": round(setup_s, 1),
        # Connect + auth + join, servers and backends together (ours: each join asks the API).
        "setup_cpu_ms_per_socket": round(1000 * setup_cpu / max(ok, 1), 2),
    }


def _summarise(
    sc: Scenario,
    target: str,
    rnd: int,
    specs: list[SocketSpec],
    done: list[dict[str, Any]],
    *,
    ok: int,
    failed: int,
    samples: list[str],
    window: float,
    cpu: tuple[float, float, float],
    rss: tuple[int, int],
) -> dict[str, Any]:
    members: dict[int, int] = {}
    for s in specs:
        members[s.room] = members.get(s.room, 0) + 1
    lat, ack = array("d"), array("d")
    totals: dict[str, float] = {}
    expected = 0
    for d in done:
        lat.frombytes(d.pop("latency_ms"))
        ack.frombytes(d.pop("ack_ms"))
        for room, n in d.pop("sent_per_room").items():
            expected += n * members[room]
        for key, value in d.items():
            if key == "failure_sample":
                samples += value
            elif key in ("max_send_lag_ms", "last_delivery"):
                totals[key] = max(totals.get(key, 0.0), value)
            else:
                totals[key] = totals.get(key, 0) + value
    delivered = int(totals.get("delivered", 0))
    busy = max(sc.duration, totals.get("last_delivery", 0.0))
    cpu_server, cpu_backend, cpu_client = cpu
    rec: dict[str, Any] = {
        **_identity(sc, target, rnd),
        "window_s": round(window, 3),
        "setup_ok": ok,
        "setup_failed": failed,
        "problems": samples[:5],
        "sent": int(totals.get("sent", 0)),
        "expected": expected,
        "delivered": delivered,
        "delivered_per_s": round(delivered / busy, 1) if sc.kind != "idle" else 0.0,
        "acks": int(totals.get("acks", 0)),
        "nacks": int(totals.get("nacks", 0)),
        "errors": int(totals.get("errors", 0)),
        "send_errors": int(totals.get("send_errors", 0)),
        "unexpected_closes": int(totals.get("unexpected_closes", 0)),
        "unacked": int(totals.get("unacked", 0)),
        "setup_retries": int(totals.get("setup_retries", 0)),
        "max_send_lag_ms": round(totals.get("max_send_lag_ms", 0.0), 1),
        "cpu_server_s": round(cpu_server, 3),
        "cpu_backend_s": round(cpu_backend, 3),
        "cpu_client_s": round(cpu_client, 3),
        "client_cpu_pct": (
            round(100 * cpu_client / window / max(1, len(done)), 1) if sc.kind != "idle" else None
        ),
    }
    for name, value in percentiles(lat).items():
        rec[f"lat_{name}_ms"] = value
    for name, value in percentiles(ack).items():
        rec[f"ack_{name}_ms"] = value
    if delivered:
        rec["server_us_per_delivered"] = round(1e6 * cpu_server / delivered, 2)
        rec["all_us_per_delivered"] = round(1e6 * (cpu_server + cpu_backend) / delivered, 2)
    if sc.kind == "persist":
        rec["persisted_per_s"] = round(rec["acks"] / sc.duration, 1)
        if rec["acks"]:
            rec["all_us_per_persisted"] = round(1e6 * (cpu_server + cpu_backend) / rec["acks"], 1)
    if sc.kind == "idle":
        rec["rss_before_mib"] = round(rss[0] / 2**20, 1)
        rec["rss_after_mib"] = round(rss[1] / 2**20, 1)
        rec["rss_per_socket_kib"] = round((rss[1] - rss[0]) / 1024 / max(ok, 1), 2)
    return rec


def _identity(sc: Scenario, target: str, rnd: int) -> dict[str, Any]:
    """What every record starts with: which scenario, target and round it measured."""
    return {
        "scenario": sc.name,
        "kind": sc.kind,
        "target": target,
        "round": rnd,
        "sockets": sc.sockets,
        "rooms": sc.rooms,
        "rate": sc.rate,
        "replicas": sc.replicas,
        "duration_s": sc.duration,
    }


def failed_record(sc: Scenario, target: str, rnd: int, problem: str) -> dict[str, Any]:
    """A scenario the target could not run at all (e.g. no socket got through the handshake)."""
    return {
        **_identity(sc, target, rnd),
        "setup_ok": 0,
        "setup_failed": sc.sockets,
        "problems": [problem[:500]],
        "sent": 0,
        "expected": 0,
        "delivered": 0,
        "delivered_per_s": 0.0,
        "acks": 0,
        "nacks": 0,
        "errors": 0,
        "send_errors": 0,
        "unexpected_closes": 0,
        "unacked": 0,
        "setup_retries": 0,
    }
