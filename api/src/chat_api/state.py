"""Everything a request needs, built once per process and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chat_api.config import Settings
from chat_api.db import make_engine, make_sessionmaker
from chat_api.publisher import Publisher, make_publisher
from chat_api.ratelimit import RateLimits
from chat_api.security import TokenService


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenService
    publisher: Publisher
    limits: RateLimits

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = make_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            tokens=TokenService(settings),
            publisher=make_publisher(settings.redis_url),
            limits=RateLimits(settings),
        )

    async def close(self) -> None:
        await self.publisher.close()
        await self.engine.dispose()
