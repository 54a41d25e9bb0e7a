"""event streams: room event seqs, message versions, room_events, user_events, topics

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Server defaults let ADD COLUMN fill existing rows (SQLite cannot add NOT NULL without).
    op.add_column("users", sa.Column("last_event_seq", sa.BigInteger(), nullable=False,
                                     server_default="0"))
    op.add_column("rooms", sa.Column("topic", sa.String(250), nullable=False, server_default=""))
    op.add_column("rooms", sa.Column("last_event_seq", sa.BigInteger(), nullable=False,
                                     server_default="0"))
    op.add_column("messages", sa.Column("version", sa.BigInteger(), nullable=False,
                                        server_default="0"))
    # Backfill: until now only message creations were numbered, so each existing message is
    # the event at its own seq and a room's event head is its message head. Edits and
    # deletes made before this revision were not events: they show as the message's
    # current state at its creation seq, which is what a replay hands out anyway.
    op.execute("UPDATE messages SET version = seq")
    op.execute("UPDATE rooms SET last_event_seq = last_seq")
    # No default for version from here on: a writer that forgot it would store 0, and a
    # message at version 0 is in no replay. (The other defaults are what new rows start at.)
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("version", server_default=None)
    op.create_index("ix_messages_room_version", "messages", ["room_id", "version"])
    for table, owner in (("room_events", "rooms"), ("user_events", "users")):
        key = "room_id" if owner == "rooms" else "user_id"
        op.create_table(
            table,
            sa.Column(key, BigId, nullable=False),
            sa.Column("event_seq", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint([key], [f"{owner}.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint(key, "event_seq"),
        )


def downgrade() -> None:
    op.drop_table("user_events")
    op.drop_table("room_events")
    op.drop_index("ix_messages_room_version", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("last_event_seq")
        batch.drop_column("topic")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_event_seq")
