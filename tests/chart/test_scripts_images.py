"""Shell scripts pass shellcheck, tools.sh is idempotent, Dockerfiles follow the image rules."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from chart_support import ROOT

pytestmark = pytest.mark.chart

SCRIPTS = [
    ROOT / "scripts" / "tools.sh",
    ROOT / "scripts" / "bootstrap.sh",
    ROOT / "k8s-dev" / "up.sh",
    ROOT / "k8s-dev" / "down.sh",
    ROOT / "k8s-dev" / "dev-secrets.sh",
    ROOT / "k8s-dev" / "cert-manager.sh",
]
SERVICES = {"api": "chat-api", "ws-gateway": "chat-ws-gateway", "frontend": "chat-frontend"}
COMMANDS = {
    "api": ('ENTRYPOINT ["python", "-m", "chat_api"]', 'CMD ["serve"]'),
    "ws-gateway": ('ENTRYPOINT ["python", "-m", "ws_gateway"]',),
    "frontend": ('ENTRYPOINT ["python", "-m", "chat_frontend"]',),
}


def test_shellcheck() -> None:
    """tools.sh, bootstrap.sh and the k8s-dev scripts are shellcheck-clean."""
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck missing: apt-get install -y shellcheck (scripts/bootstrap.sh)"
    proc = subprocess.run([exe, *map(str, SCRIPTS)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_tools_sh_idempotent(helms: object) -> None:
    """A second tools.sh run fetches nothing and prints the same helm and checkov paths."""
    runs = [
        subprocess.run(
            ["bash", str(SCRIPTS[0])], capture_output=True, text=True, check=True, timeout=120
        )
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout
    assert "fetching" not in runs[0].stderr + runs[1].stderr
    assert "installing" not in runs[0].stderr + runs[1].stderr
    paths = dict(line.split("=", 1) for line in runs[0].stdout.splitlines())
    for key, major in (("HELM4", "v4."), ("HELM3", "v3.")):
        assert paths[key].startswith(str(ROOT / ".tools"))
        out = subprocess.run([paths[key], "version", "--short"], capture_output=True, text=True)
        assert out.stdout.startswith(major)
    # checkov lives in its own venv under .tools, never in the workspace lock.
    assert paths["CHECKOV"] == str(ROOT / ".tools" / "checkov" / "bin" / "checkov")
    assert "checkov" not in (ROOT / "uv.lock").read_text()
    assert ".tools/" in (ROOT / ".gitignore").read_text().split()


def test_bootstrap_pins_the_images_uv() -> None:
    """bootstrap.sh installs the uv version the Dockerfiles build with (one lock, one uv)."""
    pinned = re.search(r"^UV_VERSION=(\S+)", (ROOT / "scripts" / "bootstrap.sh").read_text(), re.M)
    assert pinned
    for service in SERVICES:
        text = (ROOT / service / "Dockerfile").read_text()
        assert f"ARG UV_VERSION={pinned.group(1)}" in text, service


@pytest.mark.parametrize("service", list(SERVICES))
def test_dockerfile_rules(service: str) -> None:
    """Base image is a build arg, only this service is synced, non-root, no HEALTHCHECK."""
    text = (ROOT / service / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "ARG BASE_IMAGE=python:3.11-slim"
    assert text.count("FROM ${BASE_IMAGE}") == 2  # build and runtime stage, same base
    assert not [i for i in instructions if i.startswith("HEALTHCHECK")]
    syncs = re.findall(r"uv sync ([^\n\\&]+)", text)
    assert syncs and all(f"--frozen --no-dev --package {SERVICES[service]}" in s for s in syncs)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "--uid 10001" in text
    for line in COMMANDS[service]:
        assert line in text
    # Paths COPY'd from the build context exist (context = repo root).
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"{service}/Dockerfile copies missing {part}"
    # No secret is baked in: no ARG/ENV that names one.
    assert not re.search(r"^(ARG|ENV)\b.*(SECRET|PASSWORD|TOKEN|DATABASE_URL)", text, re.M)
