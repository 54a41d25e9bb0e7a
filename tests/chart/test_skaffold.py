"""skaffold.yaml stays in step with the Dockerfiles, the chart's values and its Services."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from chart_support import CHART, ROOT, Helm, find, one

pytestmark = pytest.mark.chart

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
SERVICES = {"chat-api": "api", "chat-ws-gateway": "ws-gateway", "chat-frontend": "frontend"}


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted} is not a chart value"
        node = node[part]
    return node


def releases() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in SKAFFOLD["deploy"]["helm"]["releases"]}


def test_api_version() -> None:
    """skaffold/v4beta13 or newer."""
    m = re.fullmatch(r"skaffold/v4beta(\d+)", SKAFFOLD["apiVersion"])
    assert m and int(m.group(1)) >= 13


def test_artifacts_match_dockerfiles() -> None:
    """Three artifacts, context the repo root, each with its service's Dockerfile."""
    artifacts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    assert set(artifacts) == set(SERVICES)
    for image, folder in SERVICES.items():
        assert artifacts[image]["context"] == "."
        dockerfile = artifacts[image]["docker"]["dockerfile"]
        assert dockerfile == f"{folder}/Dockerfile" and (ROOT / dockerfile).is_file()


def test_releases_order_and_paths() -> None:
    """Dev datastores deploy before the chat chart; chart and values paths exist."""
    names = [r["name"] for r in SKAFFOLD["deploy"]["helm"]["releases"]]
    assert names == ["chat-deps", "chat"]
    for rel in releases().values():
        assert (ROOT / rel["chartPath"] / "Chart.yaml").is_file()
        for values in rel.get("valuesFiles", []):
            assert (ROOT / values).is_file()
    assert releases()["chat"]["chartPath"] == str(CHART.relative_to(ROOT))


def test_set_value_templates_hit_chart_values() -> None:
    """Every artifact sets <svc>.image.repository/tag, and those keys exist in values.yaml."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = releases()["chat"]["setValueTemplates"]
    used = set()
    for key, template in templates.items():
        assert isinstance(lookup(values, key), str)
        m = re.fullmatch(r"\{\{\.IMAGE_(REPO|TAG)_([a-z_]+)\}\}", template)
        assert m, template
        artifact = m.group(2).replace("_", "-")
        assert artifact in SERVICES
        assert key.endswith("image.repository" if m.group(1) == "REPO" else "image.tag")
        used.add((artifact, m.group(1)))
    assert used == {(a, kind) for a in SERVICES for kind in ("REPO", "TAG")}


def test_rendered_images_follow_skaffold_values(helm: Helm) -> None:
    """Values set the way skaffold sets them land in the right Deployment's image."""
    rel = releases()["chat"]
    args = ["-f", str(ROOT / rel["valuesFiles"][0])]
    expected = {}
    for key, template in rel["setValueTemplates"].items():
        m = re.fullmatch(r"\{\{\.IMAGE_(REPO|TAG)_([a-z_]+)\}\}", template)
        assert m
        artifact = m.group(2).replace("_", "-")
        value = f"reg.test/{artifact}" if m.group(1) == "REPO" else f"tag-{artifact}"
        args += ["--set", f"{key}={value}"]
        expected[artifact] = f"reg.test/{artifact}:tag-{artifact}"
    docs = helm.template(*args)
    for artifact, folder in SERVICES.items():
        dep = one(docs, "Deployment", f"chat-{folder}")
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == expected[artifact]


def test_port_forwards_target_real_service_ports(helm: Helm) -> None:
    """Each port-forward names a Service port the chat release really renders."""
    docs = helm.template("-f", str(ROOT / releases()["chat"]["valuesFiles"][0]))
    for pf in SKAFFOLD["portForward"]:
        assert (
            pf["resourceType"] == "service" and pf["namespace"] == releases()["chat"]["namespace"]
        )
        svc = one(docs, "Service", pf["resourceName"])
        assert pf["port"] in {p["port"] for p in svc["spec"]["ports"]}
    assert len(find(docs, "Ingress")) == 1


def test_frontend_static_sync_lands_in_image_path() -> None:
    """File sync source exists and maps to where the frontend image keeps its package."""
    artifact = next(a for a in SKAFFOLD["build"]["artifacts"] if a["image"] == "chat-frontend")
    (rule,) = artifact["sync"]["manual"]
    assert rule["src"] == "frontend/src/chat_frontend/static/**"
    assert (ROOT / "frontend/src/chat_frontend/static").is_dir()
    dockerfile = (ROOT / "frontend/Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile and "COPY frontend/src frontend/src" in dockerfile
    assert rule["dest"] == "/app"


def test_profiles() -> None:
    """kind, minikube and tls profiles exist."""
    assert {p["name"] for p in SKAFFOLD["profiles"]} >= {"kind", "minikube", "tls"}


def apply_patches(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 `add` as skaffold applies a profile's patches (paths must exist)."""
    config = copy.deepcopy(config)
    for patch in patches:
        assert patch["op"] == "add", patch
        *parents, last = patch["path"].strip("/").split("/")
        node: Any = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            assert last == "-", patch
            node.append(patch["value"])
        else:
            assert last not in node, f"{patch['path']} exists: use replace"
            node[last] = patch["value"]
    return config


def test_tls_profile_renders_https(helm: Helm) -> None:
    """The tls profile's patches land: cert-manager hook, the deps' dev CA, the TLS values."""
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == "tls"]
    config = apply_patches(SKAFFOLD, profile["patches"])
    hooks = [h["host"]["command"] for h in config["deploy"]["helm"]["hooks"]["before"]]
    assert hooks[-1] == ["bash", "k8s-dev/cert-manager.sh"]
    assert (ROOT / "k8s-dev" / "cert-manager.sh").is_file()
    deps, chat = config["deploy"]["helm"]["releases"]
    assert deps["name"] == "chat-deps" and chat["name"] == "chat"
    deps_args = [a for k, v in deps["setValues"].items() for a in ("--set", f"{k}={v}")]
    issuers = {
        d["metadata"]["name"]
        for d in helm.template(*deps_args, chart=ROOT / deps["chartPath"])
        if d["kind"] == "Issuer"
    }
    chat_args = [a for f in chat["valuesFiles"] for a in ("-f", str(ROOT / f))]
    docs = helm.template(*chat_args)
    cert = one(docs, "Certificate", "chat")
    assert cert["spec"]["issuerRef"]["name"] in issuers
    assert one(docs, "Ingress", "chat")["spec"]["tls"]
