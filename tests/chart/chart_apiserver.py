"""A stand-in for the Kubernetes API server's discovery endpoints, so helm 3 can dry-run.

`helm install --dry-run=client` on helm 3 still asks the cluster for its version and API
groups (helm 4 does not). This answers exactly those GET requests for the kinds the charts
render; it stores nothing and accepts no writes. It is the only thing the chart suite mocks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# group/version -> kinds every chart in this repository can render.
KINDS: dict[str, list[str]] = {
    "v1": ["ConfigMap", "Pod", "Secret", "Service", "ServiceAccount"],
    "apps/v1": ["Deployment", "StatefulSet"],
    "batch/v1": ["Job"],
    "autoscaling/v2": ["HorizontalPodAutoscaler"],
    "policy/v1": ["PodDisruptionBudget"],
    "networking.k8s.io/v1": ["Ingress", "NetworkPolicy"],
    "monitoring.coreos.com/v1": ["PrometheusRule", "ServiceMonitor"],
    "cert-manager.io/v1": ["Certificate", "Issuer"],
}
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def _resources(group_version: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": _plural(kind),
                "singularName": kind.lower(),
                "namespaced": True,
                "kind": kind,
                "verbs": ["get", "list", "create", "update", "patch", "delete"],
            }
            for kind in KINDS[group_version]
        ],
    }


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return VERSION
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/api/v1":
        return _resources("v1")
    if path == "/apis":
        groups = [gv for gv in KINDS if "/" in gv]
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": gv.split("/")[0],
                    "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                    "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                }
                for gv in groups
            ],
        }
    if path.startswith("/apis/") and path.removeprefix("/apis/") in KINDS:
        return _resources(path.removeprefix("/apis/"))
    return None


class _Discovery(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = _discovery(self.path.split("?", 1)[0])
        data = json.dumps(body or {"kind": "Status", "code": 404}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def discovery_kubeconfig(folder: Path) -> Iterator[Path]:
    """A kubeconfig (mode 600) pointing at a discovery-only server on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "discovery", "cluster": {"server": url}}],
                "users": [{"name": "none", "user": {}}],
                "contexts": [{"name": "d", "context": {"cluster": "discovery", "user": "none"}}],
                "current-context": "d",
            }
        )
    )
    path.chmod(0o600)
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
