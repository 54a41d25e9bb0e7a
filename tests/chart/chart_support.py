"""Shared constants and helpers for the chart suite (unique module name, see conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "chat"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUES_IDS = [p.name.removesuffix("-values.yaml") for p in CI_VALUES]
RELEASE = "chat"

Doc = dict[str, Any]
# notes(major, *helm_args) -> the NOTES.txt text (conftest's `notes` fixture).
Notes = Callable[..., str]


@dataclass(frozen=True)
class Helm:
    """One helm binary; `template` returns parsed documents or raises with helm's stderr."""

    path: str
    major: int

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(env or {}), "HELM_CACHE_HOME": "/tmp/chat-helm/cache"}
        env["HELM_CONFIG_HOME"] = "/tmp/chat-helm/config"
        env["HELM_DATA_HOME"] = "/tmp/chat-helm/data"
        proc = subprocess.run(
            [self.path, *args], capture_output=True, text=True, env=env, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def template_text(self, *args: str, chart: Path = CHART) -> str:
        return self.run("template", RELEASE, str(chart), "--namespace", "chat", *args).stdout

    def template(self, *args: str, chart: Path = CHART) -> list[Doc]:
        return [d for d in yaml.safe_load_all(self.template_text(*args, chart=chart)) if d]


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    hits = find(docs, kind, name)
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(kind/name, pod spec) for every workload, hook Job and helm test Pod."""
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield name, d["spec"]["template"]["spec"]
        elif d["kind"] == "Pod":
            yield name, d["spec"]


def env_of(docs: list[Doc], component: str) -> dict[str, str]:
    """The ConfigMap env of one component, e.g. env_of(docs, "ws-gateway")."""
    return dict(one(docs, "ConfigMap", f"{RELEASE}-{component}")["data"])


def container(docs: list[Doc], component: str) -> dict[str, Any]:
    """The single container of a component's Deployment."""
    dep = one(docs, "Deployment", f"{RELEASE}-{component}")
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def contract_ports() -> dict[str, int]:
    """{"API_PORT": 8000, ...} parsed from the table in docs/contract.md."""
    text = (ROOT / "docs" / "contract.md").read_text()
    ports = {env: int(num) for num, env in re.findall(r"(\d{2,5}) \(`([A-Z_]+_PORT)`", text)}
    assert len(ports) == 6, ports
    return ports
