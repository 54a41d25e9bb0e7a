"""The PrometheusRule's alerts pass `promtool check rules` and fire on the right series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import Doc, Helm, one

pytestmark = pytest.mark.chart

JOB = "chat-ws-gateway-pods"


@pytest.fixture(scope="module")
def rules_file(prod_docs: list[Doc], tmp_path_factory: pytest.TempPathFactory) -> Path:
    rule = one(prod_docs, "PrometheusRule", "chat")
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool missing: apt-get install -y prometheus (scripts/bootstrap.sh does it)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_rules(rules_file: Path) -> None:
    """promtool accepts every rule and finds the five alerts."""
    proc = promtool("check", "rules", str(rules_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 5 rules found" in proc.stdout


def test_alerts_cover_metrics(rules_file: Path) -> None:
    """Alerts use the gateway's real metric names (see ws_gateway/metrics.py)."""
    text = rules_file.read_text()
    for metric in (
        "chat_gateway_canary_failures_total",
        "chat_gateway_pubsub_roundtrip_seconds_count",
        "chat_gateway_nacks_total",
        "chat_gateway_acks_total",
        "chat_gateway_message_ack_seconds_bucket",
        "chat_gateway_redis_errors_total",
        "chat_gateway_store_queue_depth",
    ):
        assert metric in text


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    label_text = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, **labels}.items())
    return {"series": f"{name}{{{label_text}}}", "values": values}


def test_alerts_fire(rules_file: Path, tmp_path: Path) -> None:
    """promtool unit tests: canary, nack ratio, p99 latency, Redis errors, store queue alert."""
    pod = {"pod": "gw-0"}
    tests: list[dict[str, Any]] = [
        {
            "interval": "1m",
            "input_series": [
                _series("chat_gateway_canary_failures_total", "0+1x20", **pod),
                _series("chat_gateway_pubsub_roundtrip_seconds_count", "0+30x20", **pod),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "ChatGatewayCanaryFailing",
                    "exp_alerts": [{"exp_labels": {"severity": "critical", "pod": "gw-0"}}],
                }
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                _series("chat_gateway_nacks_total", "0+10x30"),
                _series("chat_gateway_acks_total", "0+90x30"),
                _series("chat_gateway_message_ack_seconds_bucket", "0+90x30", le="0.5"),
                _series("chat_gateway_message_ack_seconds_bucket", "0+100x30", le="1"),
                _series("chat_gateway_message_ack_seconds_bucket", "0+100x30", le="+Inf"),
                _series("chat_gateway_redis_errors_total", "0+60x30", **pod),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "25m",
                    "alertname": "ChatGatewayNackRateHigh",
                    "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                },
                {
                    "eval_time": "25m",
                    "alertname": "ChatMessageAckLatencyP99High",
                    "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                },
                {
                    "eval_time": "25m",
                    "alertname": "ChatGatewayRedisErrors",
                    "exp_alerts": [{"exp_labels": {"severity": "critical", "pod": "gw-0"}}],
                },
            ],
        },
        {
            # STORE_QUEUE_MAX is 5000 in production-values: 4500 waiting for 5 minutes alerts.
            "interval": "1m",
            "input_series": [
                _series("chat_gateway_store_queue_depth", "4500x10", pod="gw-0"),
                _series("chat_gateway_store_queue_depth", "3900x10", pod="gw-1"),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "5m",
                    "alertname": "ChatGatewayStoreQueueNearFull",
                    "exp_alerts": [{"exp_labels": {"severity": "warning", "pod": "gw-0"}}],
                }
            ],
        },
        {
            # Healthy traffic: nothing fires.
            "interval": "1m",
            "input_series": [
                _series("chat_gateway_canary_failures_total", "0x30", **pod),
                _series("chat_gateway_pubsub_roundtrip_seconds_count", "0+30x30", **pod),
                _series("chat_gateway_nacks_total", "0x30"),
                _series("chat_gateway_acks_total", "0+100x30"),
                _series("chat_gateway_message_ack_seconds_bucket", "0+100x30", le="0.05"),
                _series("chat_gateway_message_ack_seconds_bucket", "0+100x30", le="+Inf"),
                _series("chat_gateway_redis_errors_total", "0x30", **pod),
                _series("chat_gateway_store_queue_depth", "0+100x30", **pod),
            ],
            "alert_rule_test": [
                {"eval_time": "25m", "alertname": name, "exp_alerts": []}
                for name in (
                    "ChatGatewayCanaryFailing",
                    "ChatGatewayNackRateHigh",
                    "ChatMessageAckLatencyP99High",
                    "ChatGatewayRedisErrors",
                    "ChatGatewayStoreQueueNearFull",
                )
            ],
        },
    ]
    # promtool compares annotations too: expect the rule's own, with $labels.pod filled in.
    rules = yaml.safe_load(rules_file.read_text())["groups"][0]["rules"]
    annotations = {r["alert"]: r["annotations"] for r in rules}
    for case in tests:
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                pod_name = alert["exp_labels"].get("pod", "")
                alert["exp_annotations"] = {
                    k: v.replace("{{ $labels.pod }}", pod_name)
                    for k, v in annotations[check["alertname"]].items()
                }
    spec = tmp_path / "tests.yaml"
    spec.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rules_file)], "evaluation_interval": "1m", "tests": tests}
        )
    )
    proc = promtool("test", "rules", str(spec))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_store_queue_alert_follows_queue_max(helm: Helm, tmp_path: Path) -> None:
    """The alert threshold is storeQueueRatioThreshold x gateway.store.queueMax, as rendered."""
    values = tmp_path / "values.yaml"
    values.write_text(
        "gateway: {store: {queueMax: 1000}}\n"
        "monitoring: {prometheusRule: {enabled: true, storeQueueRatioThreshold: 0.9}}\n"
    )
    docs = helm.template("--set", "secrets.existingSecret=s", "-f", str(values))
    rules = one(docs, "PrometheusRule", "chat")["spec"]["groups"][0]["rules"]
    (rule,) = [r for r in rules if r.get("alert") == "ChatGatewayStoreQueueNearFull"]
    assert rule["expr"].strip().endswith("> 900")
