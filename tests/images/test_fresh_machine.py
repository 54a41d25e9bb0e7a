"""The README's two commands on a clean Debian 12: `git clone`, then `make run` / `make bootstrap`.

The machine has Debian's system Python 3.11, which refuses `pip install` (PEP 668), no venv
module, no pip, and only git, make, curl and ca-certificates besides. The tests run in file
order on one machine, as a new user would: `make run` first, then `make bootstrap`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from chat_testkit.ports import free_port_base
from fresh_machine import BUNDLE_IN_MACHINE, REPO_IN_MACHINE, FreshMachine, Job, repo_bundle
from image_support import FRESH_BASE, TIMINGS, ensure_base, ensure_tools

pytestmark = [pytest.mark.images, pytest.mark.timeout(2400)]

# Cold: apt and PyPI downloads; warm (host caches mounted) make run is ready in ~35 s.
READY_WITHIN = 900.0
BOOTSTRAP_WITHIN = 1800.0
# What `make test` needs from apt on a Debian machine (scripts/bootstrap.sh installs them).
TEST_PACKAGES = {
    "redis-server", "postgresql", "nginx", "chromium", "prometheus", "shellcheck", "npm",
    "podman", "runc", "debootstrap", "libnss3-tools", "openssl",
}  # fmt: skip
DEV_MODULES = ("pytest", "playwright", "mypy", "schemathesis")
FIND_MODULES = (
    ".venv/bin/python -c 'import importlib.util as u, sys; "
    "print(*[m for m in sys.argv[1:] if u.find_spec(m)])' " + " ".join(DEV_MODULES)
)


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshMachine]:
    """A clean Debian 12 container holding a `git clone` of this checkout's HEAD."""
    try:
        with TIMINGS.phase("tools (podman, runc, debootstrap)"):
            ensure_tools()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    image = ensure_base(FRESH_BASE)
    bundle = repo_bundle(tmp_path_factory.mktemp("fresh-src") / "repo.bundle")
    machine = FreshMachine.start(image, tmp_path_factory.mktemp("fresh-out"), bundle)
    try:
        clone = f"git -c advice.detachedHead=false clone -q {BUNDLE_IN_MACHINE} {REPO_IN_MACHINE}"
        machine.sh(clone, timeout=120)
        yield machine
    finally:
        machine.remove()


def summary(output: str) -> dict[str, str]:
    """bootstrap's last line, `bootstrap: installed apt: a b; uv V (path); venv: N packages`,
    as {"apt": "a b", "uv": "V (path)", "venv": "N packages"}."""
    lines = [line for line in output.splitlines() if line.startswith("bootstrap: installed ")]
    assert len(lines) == 1, output[-4000:]
    parts = lines[0].removeprefix("bootstrap: installed ").split("; ")
    return {key.rstrip(":"): value for key, _, value in (p.partition(" ") for p in parts)}


def wait_ready(url: str, *, timeout: float = 30.0) -> httpx.Response:
    """The gateway turns ready only after its first API check: poll, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = httpx.get(url, timeout=5)
            if resp.status_code == 200 or time.monotonic() > deadline:
                return resp
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def check_stack(base: int) -> None:
    """All three services ready (api: both ports) and the chat page served."""
    for port in (base, base + 1, base + 3, base + 5):  # api, api internal, frontend/gateway ops
        resp = wait_ready(f"http://127.0.0.1:{port}/readyz")
        assert resp.status_code == 200, (port, resp.text)
    page = httpx.get(f"http://127.0.0.1:{base + 2}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'data-testid="chat-app"' in page.text


def test_make_run_on_a_clean_debian(machine: FreshMachine) -> None:
    """`make run` right after the clone installs python3-venv and uv (in .tools/uv, as pip
    into the system Python is refused), only the services' packages, no PostgreSQL or
    Redis, serves the chat page with every /readyz 200, and stops cleanly on Ctrl-C."""
    before = machine.installed_packages()
    base = free_port_base()
    job: Job | None = None
    try:
        with TIMINGS.phase("fresh machine: make run to ready"):
            job = machine.spawn("run", "make run", {"RUN_LOCAL_PORT_BASE": str(base)})
            job.wait_for(r"ready -> open http://localhost:\d+", timeout=READY_WITHIN)
        check_stack(base)
    finally:
        if job is not None:
            with TIMINGS.phase("fresh machine: make run Ctrl-C to stopped"):
                code = job.interrupt(timeout=60)
    output = job.output()
    # make gets the Ctrl-C too, as in a terminal, and reports it after run_local stopped.
    assert code == 130 and "run_local: stopped" in output, output[-4000:]
    assert "killing it" not in output
    assert machine.service_processes() == []

    installed = summary(output)
    assert installed.get("apt", "").split() == sorted({"python3-venv"} - before)
    assert re.fullmatch(r"\S+ \(\.tools/uv/bin/uv\)", installed["uv"]), installed
    assert re.fullmatch(r"\d+ packages", installed["venv"]), installed
    assert machine.sh(f"cd {REPO_IN_MACHINE} && {FIND_MODULES}").split() == []
    assert not {"postgresql", "redis-server"} & machine.installed_packages()


def test_make_bootstrap_on_a_clean_debian(machine: FreshMachine) -> None:
    """`make bootstrap` installs every system package `make test` needs and the dev group,
    says what in one line; a second run installs nothing and says nothing, and make run's
    own bootstrap afterwards keeps the dev group (an exact sync would remove it)."""
    before = machine.installed_packages()
    in_repo = f"cd {REPO_IN_MACHINE} && "
    with TIMINGS.phase("fresh machine: make bootstrap"):
        output = machine.sh(in_repo + "make bootstrap", timeout=BOOTSTRAP_WITHIN)
    installed = summary(output)
    wanted = TEST_PACKAGES | ({"python3-venv"} if "uv" in installed else set())
    assert sorted(installed["apt"].split()) == sorted(wanted - before), output[-4000:]
    assert re.fullmatch(r"\d+ packages", installed["venv"]), installed
    tools = "command -v redis-server nginx promtool shellcheck npm podman runc debootstrap"
    tools += " certutil openssl"
    machine.sh(f"{tools} && test -x /usr/bin/chromium && ls /usr/lib/postgresql/*/bin/initdb")
    assert machine.sh(in_repo + FIND_MODULES).split() == list(DEV_MODULES)

    with TIMINGS.phase("fresh machine: make bootstrap again"):
        again = machine.sh(in_repo + "make bootstrap", timeout=300)
    assert "bootstrap:" not in again, again
    machine.sh(in_repo + "BOOTSTRAP_MINIMAL=1 bash scripts/bootstrap.sh", timeout=300)
    assert machine.sh(in_repo + FIND_MODULES).split() == list(DEV_MODULES)
