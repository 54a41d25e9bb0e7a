"""Everything a socket handler needs, built once per process by server.py."""

from __future__ import annotations

from dataclasses import dataclass

from ws_gateway.api_client import ApiClient
from ws_gateway.auth import TokenValidator
from ws_gateway.broker import Broker
from ws_gateway.config import Settings
from ws_gateway.presence import PresenceTracker
from ws_gateway.rooms import RoomIndex
from ws_gateway.store import StoreBatcher


@dataclass
class GatewayContext:
    settings: Settings
    api: ApiClient
    validator: TokenValidator
    index: RoomIndex
    broker: Broker
    presence: PresenceTracker
    store: StoreBatcher
    draining: bool = False
    # Message stores queued or in a batch request, counted until their ack/nack is sent:
    # drain waits for them to reach zero.
    inflight: int = 0
    # Set once a drain stops taking new stores (after DRAIN_DELAY_SECONDS).
    stores_closed: bool = False
    api_reachable: bool = False
