"""checkov over the rendered manifests: nothing fails outside checkov_skips.yaml.

`checkov -d charts/chat --framework helm` renders without values, and this chart refuses to
render without a Secret name, so that scan sees 0 resources and passes. We render every
values file first and scan the output, and check that checkov really saw the workloads.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, CI_VALUES, ROOT, VALUES_IDS, Helm

pytestmark = pytest.mark.chart

SKIPS_FILE = Path(__file__).with_name("checkov_skips.yaml")
DEV_VALUES = ROOT / "k8s-dev" / "values-dev.yaml"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "Pod"}
# (file name, helm template args, chart): every tested values file, k8s-dev's, and the deps chart.
INPUTS: list[tuple[str, tuple[str, ...], Path]] = [
    *((name, ("-f", str(path)), CHART) for name, path in zip(VALUES_IDS, CI_VALUES, strict=True)),
    ("dev", ("-f", str(DEV_VALUES)), CHART),
    (
        "dev-tls",
        ("-f", str(DEV_VALUES), "-f", str(ROOT / "k8s-dev" / "values-dev-tls.yaml")),
        CHART,
    ),
    ("deps", ("--set", "tls.selfSignedIssuer=true"), ROOT / "k8s-dev" / "deps"),
]


@pytest.fixture(scope="module")
def scanned(
    helm: Helm, tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """({file name: rendered text}, failed checks, passed checks) from one checkov run."""
    out = tmp_path_factory.mktemp("checkov")
    rendered = {
        f"{name}.yaml": helm.template_text(*args, chart=chart) for name, args, chart in INPUTS
    }
    args = []
    for name, text in rendered.items():
        (out / name).write_text(text)
        args += ["-f", str(out / name)]
    proc = subprocess.run(
        [tools["CHECKOV"], *args, "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=out,
    )
    # Exit code 1 only means "some check failed"; anything else is checkov itself failing.
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    (result,) = report if isinstance(report, list) else [report]
    assert result["check_type"] == "kubernetes" and result["summary"]["parsing_errors"] == 0
    return rendered, result["results"]["failed_checks"], result["results"]["passed_checks"]


def where(check: dict[str, Any]) -> str:
    return f"{Path(check['file_path']).name}:{check['resource']}"


def load_skips() -> list[dict[str, str]]:
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    for entry in skips:
        assert set(entry) <= {"check", "where", "reason"}, entry
        assert re.fullmatch(r"CKV2?_K8S_\d+", entry["check"]), entry
        assert len(entry.get("reason", "")) > 40, f"{entry['check']}: say why it is skipped"
    return list(skips)


def skipped_by(skips: list[dict[str, str]], check: dict[str, Any]) -> dict[str, str] | None:
    for entry in skips:
        if entry["check"] == check["check_id"] and re.search(entry.get("where", ""), where(check)):
            return entry
    return None


def test_checkov_scanned_every_workload(scanned: Any) -> None:
    """checkov parsed every rendered file and checked each workload (no silent 0-resource pass)."""
    rendered, failed, passed = scanned
    seen = {where(c) for c in failed + passed}
    for name, text in rendered.items():
        for doc in (d for d in yaml.safe_load_all(text) if d):
            if doc["kind"] in WORKLOADS:
                meta = doc["metadata"]
                assert f"{name}:{doc['kind']}.{meta['namespace']}.{meta['name']}" in seen


def test_checkov_only_skipped_findings(scanned: Any) -> None:
    """Every failed checkov check is covered by checkov_skips.yaml (with its reason)."""
    _, failed, _ = scanned
    skips = load_skips()
    unexpected = sorted(
        f"{c['check_id']} {c['check_name']}: {where(c)}" for c in failed if not skipped_by(skips, c)
    )
    assert not unexpected, "\n".join(unexpected)


def test_checkov_skips_are_all_used(scanned: Any) -> None:
    """Each skip entry still matches a finding; a stale skip would hide a future regression."""
    _, failed, _ = scanned
    skips = load_skips()
    used = {id(skipped_by(skips, c)) for c in failed}
    stale = [e["check"] for e in skips if id(e) not in used]
    assert not stale, f"unused skips: {stale}"
    assert len(skips) <= 10, "keep the skip list short"
