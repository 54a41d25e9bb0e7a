"""helm lint --strict on helm 3 and 4, rendering, and kubernetes-validate --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
from chart_support import CHART, CI_VALUES, ROOT, VALUES_IDS, Helm

pytestmark = pytest.mark.chart

DEPS = ROOT / "k8s-dev" / "deps"
DEV_VALUES = ROOT / "k8s-dev" / "values-dev.yaml"
DEV_TLS = ROOT / "k8s-dev" / "values-dev-tls.yaml"
OLDEST_K8S = "1.29.0"  # Chart.yaml kubeVersion floor
# The CLI installed beside this interpreter (works with or without `uv run` on PATH).
KUBERNETES_VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("values", CI_VALUES, ids=VALUES_IDS)
def test_lint_strict(helms: dict[int, Helm], major: int, values: Path) -> None:
    """The chart lints clean (--strict: warnings fail) with every ci values file."""
    proc = helms[major].run("lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("major", [3, 4])
def test_lint_dev_chart_and_values(helms: dict[int, Helm], major: int) -> None:
    """The k8s-dev deps chart and the chat chart with values-dev.yaml lint clean."""
    helms[major].run("lint", "--strict", str(DEPS))
    helms[major].run("lint", "--strict", str(DEPS), "--set", "tls.selfSignedIssuer=true")
    helms[major].run("lint", "--strict", str(CHART), "-f", str(DEV_VALUES))
    helms[major].run("lint", "--strict", str(CHART), "-f", str(DEV_VALUES), "-f", str(DEV_TLS))


@pytest.mark.parametrize("values", CI_VALUES, ids=VALUES_IDS)
def test_helm3_and_helm4_render_the_same(helms: dict[int, Helm], values: Path) -> None:
    """Both helm majors produce identical manifests, so either can install the chart."""
    assert helms[3].template_text("-f", str(values)) == helms[4].template_text("-f", str(values))


@pytest.fixture(scope="module")
def manifest_files(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("manifests")
    files = []
    for name, values in [*zip(VALUES_IDS, CI_VALUES, strict=True), ("dev", DEV_VALUES)]:
        path = out / f"{name}.yaml"
        path.write_text(helm.template_text("-f", str(values)))
        files.append(path)
    tls = out / "dev-tls.yaml"
    tls.write_text(helm.template_text("-f", str(DEV_VALUES), "-f", str(DEV_TLS)))
    files.append(tls)
    for name, args in (("deps", ()), ("deps-tls", ("--set", "tls.selfSignedIssuer=true"))):
        deps = out / f"{name}.yaml"
        deps.write_text(helm.template_text(*args, chart=DEPS))
        files.append(deps)
    return files


@pytest.mark.parametrize("version", [OLDEST_K8S, kubernetes_validate.latest_version()])
def test_kubernetes_validate_strict(manifest_files: list[Path], version: str) -> None:
    """Every rendered object passes kubernetes-validate --strict, oldest and newest version."""
    proc = subprocess.run(
        [KUBERNETES_VALIDATE, "--strict", "--quiet", "-k", version, *map(str, manifest_files)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        # CRDs (Prometheus Operator, cert-manager) have no upstream schema; promtool,
        # test_objects and test_tls check those objects.
        if line.strip() and "Couldn't find schema for kind" not in line
    ]
    assert proc.returncode == 0 and not problems, "\n".join(problems) or proc.stdout
