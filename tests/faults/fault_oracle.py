"""The invariant, checked against PostgreSQL (GET /api/messages) as the oracle, and the
measurement report every scenario prints (and appends to artifacts/faults/report.jsonl).

Invariant: every acked message appears exactly once on every member client (after resume),
in seq order; every nacked/unanswered one either appears exactly once after the client's
retry with the same client_msg_id or is reported failed: never twice, never silently gone.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chat_testkit.client import Resilient, eventually, stored_messages

REPORT_FILE: Path | None = None  # set by conftest


@dataclass
class Report:
    scenario: str
    sent: int = 0
    acked: int = 0
    nacks: int = 0
    resends: int = 0
    failed_reported: int = 0
    stored: int = 0
    delivered: int = 0  # sum over clients of messages they hold
    duplicates: int = 0
    gaps_filled: int = 0
    reconnects: int = 0
    recovery_seconds_max: float = 0.0
    recovery_seconds_p50: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def emit(self) -> None:
        line = json.dumps(asdict(self), sort_keys=True, default=str)
        print(f"\nFAULTS-REPORT {line}")
        if REPORT_FILE is not None:
            with REPORT_FILE.open("a") as fh:
                fh.write(line + "\n")


async def settle(clients: list[Resilient], timeout: float = 40) -> None:
    """Wait until every client has no message in flight (acked or reported failed)."""

    def done() -> bool:
        for c in clients:
            c.expire()
        return all(not c.unacked for c in clients)

    await eventually(done, timeout, "every sent message acked or reported failed")


async def check_oracle(
    api_url: str, room: int, clients: list[Resilient], scenario: str, **extra: Any
) -> Report:
    """Assert the invariant for one room and return the measurements."""
    await settle(clients)
    stored = stored_messages(api_url, clients[0].user, room)
    want = [(m["seq"], m["id"], m["content"]) for m in stored]
    seqs = [m["seq"] for m in stored]
    assert seqs == sorted(set(seqs)), "PostgreSQL seqs must be unique and ascending"
    # Never twice: one row per (sender, client_msg_id).
    per_key = Counter((m["sender_id"], m["client_msg_id"]) for m in stored)
    twice = {k: n for k, n in per_key.items() if n > 1}
    assert not twice, f"stored twice: {twice}"
    by_key = {(m["sender_id"], m["client_msg_id"]): m for m in stored}
    await eventually(
        lambda: all(len(c.seen[room]) >= len(stored) for c in clients), 40, "clients caught up"
    )
    rep = Report(scenario=scenario, stored=len(stored), extra=dict(extra))
    outages: list[float] = []
    for c in clients:
        got = [(seq, m["id"], m["content"]) for seq, m in sorted(c.seen[room].items())]
        assert got == want, f"{c.user.username} holds a different history than PostgreSQL"
        assert c.duplicates == 0, f"{c.user.username} got {c.duplicates} live duplicates"
        for cmid, msg in c.acked.items():
            row = by_key.get((c.user.id, cmid))
            assert row is not None, f"acked {cmid} is not in PostgreSQL (lost)"
            assert row["id"] == msg["id"], f"ack for {cmid} names another row than stored"
        for cmid in c.sent:
            assert cmid in c.acked or cmid in c.failed, f"{cmid} neither acked nor reported"
        rep.sent += len(c.sent)
        rep.acked += len(c.acked)
        rep.nacks += c.nacks
        rep.resends += c.resends
        rep.failed_reported += len(c.failed)
        rep.delivered += len(c.seen[room])
        rep.duplicates += c.duplicates
        rep.gaps_filled += c.gaps
        rep.reconnects += max(c.connects - 1, 0)
        outages.extend(c.outages)
    # Sent messages not acked and not reported failed would be "silently gone".
    sent_keys = {(c.user.id, cmid) for c in clients for cmid in c.sent}
    rep.extra["failed_but_stored"] = sum(
        1 for c in clients for cmid in c.failed if (c.user.id, cmid) in by_key
    )
    rep.extra["stored_from_these_clients"] = len(sent_keys & set(by_key))
    if outages:
        rep.recovery_seconds_max = round(max(outages), 3)
        rep.recovery_seconds_p50 = round(statistics.median(outages), 3)
    rep.emit()
    return rep


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[idx]
