"""Throw-away servers and processes for the chat test suites."""

from chat_testkit.ports import free_port
from chat_testkit.postgres import PostgresServer
from chat_testkit.process import ServiceProcess, wait_http_ok
from chat_testkit.redis import RedisServer

__all__ = ["PostgresServer", "RedisServer", "ServiceProcess", "free_port", "wait_http_ok"]
