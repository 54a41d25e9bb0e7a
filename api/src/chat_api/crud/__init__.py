"""Database operations, keyword-only, one module per resource. Routes stay thin."""

from chat_api.crud import messages, rooms, users

__all__ = ["messages", "rooms", "users"]
