"""The nginx launcher runs the real /usr/sbin/nginx in front of tiny upstreams: it proxies,
reloads without a refused request, terminates TLS, and stops leaving no process or handle."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from chat_testkit.nginx import Nginx
from chat_testkit.ports import free_port
from chat_testkit.process import pid_alive
from chat_testkit.tls import TestCA
from chat_testkit.upstream import NamedUpstream

Upstream = Callable[[str], str]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """upstream(name) -> host:port of a running HTTP server that answers as `name`."""
    started: list[NamedUpstream] = []

    def start(name: str) -> str:
        started.append(NamedUpstream(name))
        return started[-1].address

    yield start
    for server in started:
        server.close()


def handles_into(directory: Path) -> list[str]:
    """This process's open file descriptors that point below `directory`."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the descriptor listdir itself used, closed meanwhile
        if target.startswith(str(directory)):
            found.append(target)
    return found


def test_proxies_by_path_and_reports_urls(tmp_path: Path, upstream: Upstream) -> None:
    """/, /api and /ws go to their upstreams, path kept; url and ws_url are plain http."""
    nginx = Nginx(
        tmp_path, free_port(), upstream("frontend"), upstream("api"), [upstream("gw")]
    ).start()
    try:
        assert nginx.url == f"http://127.0.0.1:{nginx.port}"
        assert nginx.ws_url == f"ws://127.0.0.1:{nginx.port}/ws"
        for path, name in (("/login", "frontend"), ("/api/healthz", "api"), ("/ws", "gw")):
            assert httpx.get(nginx.url + path, timeout=5).text == f"{name} {path}"
        assert "GET /api/healthz HTTP/1.1" in nginx.access_log.read_text()
    finally:
        nginx.stop()


def test_reload_keeps_serving_with_new_workers_and_new_config(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Requests made throughout a reload all succeed; the new workers serve the re-rendered
    config and the old ones exit."""
    nginx = Nginx(tmp_path, free_port(), upstream("fe"), upstream("api-1"), [upstream("gw")])
    nginx.start()
    failures: list[str] = []
    served: list[str] = []
    done = threading.Event()

    def traffic() -> None:
        deadline = time.monotonic() + 30  # bounded, whatever happens to the test
        # No keep-alive: a new connection each time, since a reload must never refuse one.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=nginx.url, limits=fresh, timeout=5) as http:
            while not done.is_set() and time.monotonic() < deadline:
                try:
                    r = http.get("/api/x")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code == 200:
                    served.append(r.text)
                else:
                    failures.append(f"{r.status_code} {r.text}")

    sender = threading.Thread(target=traffic)
    try:
        old = nginx.worker_pids()
        sender.start()
        while len(served) < 20 and sender.is_alive():
            time.sleep(0.01)
        nginx.api = upstream("api-2")
        nginx.reload()
        new = nginx.worker_pids() - old
        assert old and new
        count = len(served)
        while served[-1] != "api-2 /api/x" or len(served) < count + 20:
            assert sender.is_alive(), "traffic stopped"
            time.sleep(0.01)
        deadline = time.monotonic() + 10
        while old & nginx.worker_pids():  # idle, so they go at once
            assert time.monotonic() < deadline, "old workers did not exit"
            time.sleep(0.02)
    finally:
        done.set()
        sender.join()
        nginx.stop()
    assert not failures, failures[:5]
    assert {"api-1 /api/x", "api-2 /api/x"} <= set(served)


def test_tls_listener_verified_against_the_ca(tmp_path: Path, upstream: Upstream) -> None:
    """With cert and key the listener is https:// (wss:// for sockets), verifiably signed."""
    ca = TestCA.create(tmp_path / "ca")
    cert = ca.issue("nginx", "127.0.0.1")
    nginx = Nginx(
        tmp_path / "nginx",
        free_port(),
        upstream("fe"),
        upstream("api"),
        [upstream("gw")],
        cert=cert.chain,
        key=cert.key,
    ).start()
    try:
        assert nginx.ws_url == f"wss://127.0.0.1:{nginx.port}/ws"
        r = httpx.get(nginx.url + "/api/x", verify=ca.client_context(), timeout=5)
        assert (nginx.url.split(":")[0], r.text) == ("https", "api /api/x")
    finally:
        nginx.stop()


def test_stop_leaves_no_process_and_no_open_log(tmp_path: Path, upstream: Upstream) -> None:
    """Neither while it runs nor after stop() does this process hold a log open; after stop()
    the master and its workers are gone."""
    address = upstream("any")
    with Nginx(tmp_path, free_port(), address, address, [address]) as nginx:
        assert nginx.proc is not None
        pids = {nginx.proc.pid, *nginx.worker_pids()}
        assert len(pids) == 2 and handles_into(tmp_path) == []
        nginx.stop()
        assert not [pid for pid in pids if pid_alive(pid)]
    assert handles_into(tmp_path) == []


def test_failed_start_says_why_and_leaves_nothing(tmp_path: Path, upstream: Upstream) -> None:
    """A certificate nginx cannot load: start() raises with nginx's own error and no process
    survives it."""
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    address = upstream("any")
    nginx = Nginx(tmp_path / "nginx", free_port(), address, address, [address], bad, bad)
    with pytest.raises(RuntimeError, match="exited with 1") as failed:
        nginx.start()
    assert "cannot load certificate" in str(failed.value)
    assert nginx.proc is not None and nginx.proc.poll() is not None
    assert handles_into(tmp_path) == []
