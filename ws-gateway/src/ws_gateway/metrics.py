"""Prometheus metrics. Labels stay low-cardinality: frame types and API operations only."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONNECTIONS = Gauge("chat_gateway_connections", "Open WebSocket connections on this replica")
FRAMES_IN = Counter("chat_gateway_frames_in", "Client frames received", ["type"])
FRAMES_OUT = Counter("chat_gateway_frames_out", "Server frames sent or queued to sockets", ["type"])
FRAMES_QUEUED = Counter(
    "chat_gateway_frames_queued",
    "Server frames that waited in a socket's send queue (the socket was not keeping up)",
)
SLOW_CONSUMERS = Counter(
    "chat_gateway_slow_consumers",
    "Sockets closed 1013 because their send queue filled (the client stopped reading)",
)
ACKS = Counter("chat_gateway_acks", "Messages acknowledged after the API committed them")
NACKS = Counter("chat_gateway_nacks", "Messages refused or failed")
RESUME_REPLAYED = Counter("chat_gateway_resume_replayed", "Events replayed by resume/fetch")
REDIS_ERRORS = Counter("chat_gateway_redis_errors", "Redis publish/subscribe/presence errors")
EVENT_STREAM_ERRORS = Counter(
    "chat_gateway_event_stream_errors", "Breaks of the API event stream followed without Redis"
)
CANARY_FAILURES = Counter("chat_gateway_canary_failures", "Pub/sub probes that did not return")
API_REQUEST_SECONDS = Histogram(
    "chat_gateway_api_request_seconds", "API call latency", ["op"], buckets=_LATENCY
)
API_SHARED = Counter(
    "chat_gateway_api_shared",
    "API GETs answered by an identical one already waiting to be sent (not asked again)",
    ["op"],
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
STORE_BATCH_SIZE = Histogram(
    "chat_gateway_store_batch_size",
    "messages per POST /messages/batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
STORE_QUEUE_DEPTH = Gauge(
    "chat_gateway_store_queue_depth", "messages waiting for a free store batch slot"
)

# labels() hashes and locks on every call; hot paths reuse one child per frame type (a
# small fixed set: validated frame types plus "invalid"/"rate_limited").
_CHILDREN: dict[tuple[int, str], Any] = {}


def _child(metric: Counter, label: str) -> Any:
    key = (id(metric), label)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(label)
    return child


def frames_out(frame_type: str) -> Any:
    """The cached `chat_gateway_frames_out{type=...}` child."""
    return _child(FRAMES_OUT, frame_type)


def frames_in(frame_type: str) -> Any:
    """The cached `chat_gateway_frames_in{type=...}` child."""
    return _child(FRAMES_IN, frame_type)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
