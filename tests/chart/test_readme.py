"""The READMEs' examples work: each helm command and each values block renders.

A README command the schema rejects (like the old `--set existingSecret=<name>`) fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from chart_support import CHART, ROOT, Doc, Helm, find, one

pytestmark = pytest.mark.chart

READMES = [ROOT / "README.md", CHART / "README.md", ROOT / "k8s-dev" / "MINIKUBE.md"]
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.M | re.S)
# Placeholders in the docs -> values a test can render with.
PLACEHOLDERS = {"<name>": "chat-secrets", "<rel>": "chat", "$tag": "dev", '"$tag"': "dev"}
# install/upgrade flags that only matter against a cluster; each takes no value unless listed.
CLUSTER_FLAGS = {"--wait", "--atomic", "--create-namespace", "--install", "--dry-run"}
CLUSTER_FLAGS_WITH_VALUE = {"--timeout"}


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of every fenced code block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(path.read_text())]


def helm_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) for every `helm install|upgrade|template` in the READMEs' shell blocks."""
    found = []
    for path in READMES:
        for lang, text in blocks(path):
            if lang not in ("sh", "bash", "shell", ""):
                continue
            joined = text.replace("\\\n", " ")
            for line in joined.splitlines():
                line = " ".join(line.split(" #", 1)[0].split())
                if re.match(r"^(\S*/)?helm (install|upgrade|template)\b", line):
                    for old, new in PLACEHOLDERS.items():
                        line = line.replace(old, new)
                    found.append((f"{path.relative_to(ROOT)}: {line}", shlex.split(line)))
    return found


def as_template(argv: list[str]) -> list[str]:
    """helm install/upgrade/template argv -> `template` args (release and chart paths kept)."""
    args = argv[2:]
    out: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg.split("=", 1)[0] in CLUSTER_FLAGS:
            pass
        elif arg in CLUSTER_FLAGS_WITH_VALUE:
            skip_next = True
        elif arg.split("=", 1)[0] in CLUSTER_FLAGS_WITH_VALUE:
            pass
        else:
            out.append(str(ROOT / arg) if (ROOT / arg / "Chart.yaml").is_file() else arg)
    for i, arg in enumerate(out):
        if arg in ("-f", "--values") and i + 1 < len(out):
            out[i + 1] = str(ROOT / out[i + 1])
    return out


COMMANDS = helm_commands()


def test_readmes_have_helm_commands() -> None:
    """Both READMEs are covered: the root quick start and the chart's own."""
    where = {w.split(":", 1)[0] for w, _ in COMMANDS}
    assert {"README.md", "charts/chat/README.md"} <= where, where


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("argv", [a for _, a in COMMANDS], ids=[w for w, _ in COMMANDS])
def test_readme_helm_command_renders(helms: dict[int, Helm], major: int, argv: list[str]) -> None:
    """Each README helm command renders with the schema and the chart's own checks."""
    proc = helms[major].run("template", *as_template(argv), check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stderr}"


def test_helm_commands_live_in_code_blocks() -> None:
    """No helm install/upgrade/template hides in inline prose, where this suite cannot see it."""
    for path in READMES:
        prose = FENCE.sub("", path.read_text())
        inline = re.findall(r"`[^`]*\bhelm (?:install|upgrade|template) [^`]*`", prose)
        assert not inline, f"{path.relative_to(ROOT)}: move into a code block: {inline}"


def test_a_rejected_command_is_caught(helm: Helm) -> None:
    """The conversion keeps what the schema sees: the old root README command fails to render."""
    old = "helm install chat charts/chat --set existingSecret=chat-secrets --set ingress.host=h"
    proc = helm.run("template", *as_template(shlex.split(old)), check=False)
    assert proc.returncode != 0 and "existingSecret" in proc.stderr


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
