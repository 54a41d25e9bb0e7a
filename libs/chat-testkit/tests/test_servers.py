"""The throw-away servers really start, answer and restart."""

from __future__ import annotations

import socket

import psycopg
from chat_testkit import PostgresServer, RedisServer


def test_postgres_answers_and_restarts(postgres_server: PostgresServer) -> None:
    """The session PostgreSQL accepts queries, also after a fast restart."""
    with psycopg.connect(postgres_server.dsn()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    postgres_server.restart()
    with psycopg.connect(postgres_server.dsn()) as conn:
        assert conn.execute("select 2").fetchone() == (2,)


def test_redis_answers(redis_server: RedisServer) -> None:
    """The session Redis answers PING."""
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"
