"""The chart README's examples work: each values block renders, manifests fit the values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from chart_support import CHART, Doc, Helm, find, one

pytestmark = pytest.mark.chart

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of every fenced code block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(path.read_text())]


def values_blocks() -> list[tuple[str, str]]:
    return [
        (text.splitlines()[0].removeprefix("# chat values:").strip(), text)
        for lang, text in blocks(CHART / "README.md")
        if lang == "yaml" and text.startswith("# chat values")
    ]


def manifest_blocks() -> dict[str, Doc]:
    docs = [
        yaml.safe_load(text)
        for lang, text in blocks(CHART / "README.md")
        if lang == "yaml" and text.startswith("# manifest")
    ]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize(("title", "text"), values_blocks(), ids=[t for t, _ in values_blocks()])
def test_readme_values_blocks_render(
    helms: dict[int, Helm], major: int, title: str, text: str, tmp_path: Path
) -> None:
    """Every `# chat values` example in the chart README renders and validates."""
    values = tmp_path / "values.yaml"
    values.write_text(text)
    helms[major].template("--set", "secrets.existingSecret=s", "-f", str(values))


def test_readme_controller_examples_fit_together(helm: Helm, tmp_path: Path) -> None:
    """The Traefik and GKE examples' Service annotations name the manifests shown beside them."""
    manifests = manifest_blocks()
    assert set(manifests) == {"ServersTransport/chat-ws", "BackendConfig/chat-ws"}
    examples = dict(values_blocks())
    rendered = {}
    for title, text in examples.items():
        path = tmp_path / f"{len(rendered)}.yaml"
        path.write_text(text)
        rendered[title] = helm.template("--set", "secrets.existingSecret=s", "-f", str(path))

    traefik = one(rendered["Traefik (k3s)"], "Service", "chat-ws-gateway")["metadata"]
    transport = manifests["ServersTransport/chat-ws"]["metadata"]
    ref = f"{transport['namespace']}-{transport['name']}@kubernetescrd"
    assert traefik["annotations"]["traefik.ingress.kubernetes.io/service.serverstransport"] == ref

    gke = rendered["GKE Ingress"]
    gw = one(gke, "Service", "chat-ws-gateway")["metadata"]["annotations"]
    assert yaml.safe_load(gw["cloud.google.com/backend-config"]) == {"default": "chat-ws"}
    backend = manifests["BackendConfig/chat-ws"]["spec"]
    assert backend["timeoutSec"] >= 3600
    pod = one(gke, "Deployment", "chat-ws-gateway")["spec"]["template"]["spec"]
    ops = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}["ops"]
    assert backend["healthCheck"] == {"type": "HTTP", "requestPath": "/readyz", "port": ops}
    assert "ingressClassName" not in one(gke, "Ingress", "chat")["spec"]
    assert find(gke, "NetworkPolicy")
