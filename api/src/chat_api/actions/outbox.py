"""Events collected while a transaction runs, published once it has committed.

Publishing after the commit means an event on the wire is always in the database: a
publish that fails (Redis down) is made good by resume and gap fill, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat_contracts.channels import room_channel, user_channel
from chat_contracts.events import Envelope
from sqlalchemy.ext.asyncio import AsyncSession

from chat_api.publisher import Publisher


@dataclass
class Outbox:
    events: list[tuple[str, Envelope]] = field(default_factory=list)

    def add(self, envelope: Envelope) -> None:
        if envelope.room_id is not None:
            self.events.append((room_channel(envelope.room_id), envelope))
        elif envelope.user_id is not None:
            self.events.append((user_channel(envelope.user_id), envelope))
        else:
            raise ValueError("an event names a room or a user stream")

    async def publish(self, publisher: Publisher) -> None:
        """Only after the commit; events go out in the order they were written."""
        if self.events:
            events, self.events = self.events, []
            await publisher.publish_many(events)


async def commit(session: AsyncSession, outbox: Outbox, publisher: Publisher) -> None:
    await session.commit()
    await outbox.publish(publisher)
