"""Prometheus metrics. Labels stay low-cardinality: frame types and API operations only."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONNECTIONS = Gauge("chat_gateway_connections", "Open WebSocket connections on this replica")
FRAMES_IN = Counter("chat_gateway_frames_in", "Client frames received", ["type"])
FRAMES_OUT = Counter("chat_gateway_frames_out", "Server frames queued to sockets", ["type"])
ACKS = Counter("chat_gateway_acks", "Messages acknowledged after the API committed them")
NACKS = Counter("chat_gateway_nacks", "Messages refused or failed")
RESUME_REPLAYED = Counter("chat_gateway_resume_replayed", "Events replayed by resume/fetch")
REDIS_ERRORS = Counter("chat_gateway_redis_errors", "Redis publish/subscribe/presence errors")
CANARY_FAILURES = Counter("chat_gateway_canary_failures", "Pub/sub probes that did not return")
API_REQUEST_SECONDS = Histogram(
    "chat_gateway_api_request_seconds", "API call latency", ["op"], buckets=_LATENCY
)
MESSAGE_ACK_SECONDS = Histogram(
    "chat_gateway_message_ack_seconds", "message frame received -> ack sent", buckets=_LATENCY
)
MESSAGE_DELIVERY_SECONDS = Histogram(
    "chat_gateway_message_delivery_seconds",
    "event published by the API (envelope ts) -> queued to sockets on this replica",
    buckets=_LATENCY,
)
PUBSUB_ROUNDTRIP_SECONDS = Histogram(
    "chat_gateway_pubsub_roundtrip_seconds", "canary probe publish -> received", buckets=_LATENCY
)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
