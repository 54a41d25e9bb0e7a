"""Database operations, keyword-only, one module per resource. Routes stay thin."""

from chat_api.crud import batch, messages, rooms, users

__all__ = ["batch", "messages", "rooms", "users"]
