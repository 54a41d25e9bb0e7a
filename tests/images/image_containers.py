"""Run a service image the way the Helm chart does, and wait for it to answer /healthz."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from image_support import TIMINGS, ULIMITS, podman, unique_tag

# The chart's pod security: read-only root, writable /tmp, no capabilities, no privilege
# escalation, and no --user so the image's own non-root USER is what runs.
SECURE_RUN = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    # No container network namespace can be set up here; loopback ports stand in for pods.
    "--network",
    "host",
    *ULIMITS,
)
HEALTHY_WITHIN = 90.0


@dataclass
class Container:
    name: str
    image: str

    def logs(self) -> str:
        proc = podman("logs", self.name, check=False, timeout=30)
        return (proc.stdout + proc.stderr)[-6000:]

    def running(self) -> bool:
        proc = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return proc.stdout.strip() == "true"

    def exec(self, *cmd: str, check: bool = True) -> str:
        return podman("exec", self.name, *cmd, check=check, timeout=30).stdout

    def process_uids(self) -> list[int]:
        """Real, effective, saved and fs UID of PID 1, the service process itself."""
        status = self.exec("cat", "/proc/1/status")
        line = next(x for x in status.splitlines() if x.startswith("Uid:"))
        return [int(v) for v in line.split()[1:]]

    def remove(self) -> None:
        podman("rm", "--force", "--time", "5", self.name, check=False, timeout=60)

    def wait_healthy(self, url: str, *, label: str) -> httpx.Response:
        """Poll until 200, failing fast (with logs) if the process dies first."""
        deadline = time.monotonic() + HEALTHY_WITHIN
        with TIMINGS.phase(label), httpx.Client(timeout=2.0) as client:
            while True:
                try:
                    resp = client.get(url)
                    if resp.status_code == 200:
                        return resp
                except httpx.HTTPError:
                    pass
                if not self.running():
                    raise AssertionError(f"{self.name} exited before {url}:\n{self.logs()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} not 200 after {HEALTHY_WITHIN}s:\n{self.logs()}")
                time.sleep(0.2)


def start(image: str, env: dict[str, str], *args: str) -> Container:
    name = f"chat-img-{unique_tag()}"
    flags = [f"--env={k}={v}" for k, v in env.items()]
    container = Container(name, image)
    try:
        podman("run", "--detach", "--name", name, *SECURE_RUN, *flags, image, *args, timeout=120)
    except BaseException:
        # A refused start still leaves a created container behind.
        container.remove()
        raise
    return container


def run_once(image: str, env: dict[str, str], *args: str, entrypoint: str | None = None) -> str:
    """A one-shot container (migrations, import probes) under the same security posture."""
    flags = [f"--env={k}={v}" for k, v in env.items()]
    if entrypoint is not None:
        flags.append(f"--entrypoint={entrypoint}")
    proc = podman("run", "--rm", *SECURE_RUN, *flags, image, *args, timeout=180)
    return proc.stdout


def image_config(image: str) -> dict[str, Any]:
    data = json.loads(podman("image", "inspect", image).stdout)[0]
    assert isinstance(data, dict)
    return data


def importable(image: str, modules: list[str]) -> dict[str, bool]:
    """Which top-level packages the image's interpreter can find."""
    code = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    out = run_once(image, {}, "-c", code, *modules, entrypoint="python")
    result = json.loads(out.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return {str(k): bool(v) for k, v in result.items()}


@dataclass
class ApiStack:
    container: Container
    public_port: int
    internal_port: int
    env: dict[str, str]

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"
