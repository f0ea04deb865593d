"""Outgoing reply parts recorded before they are sent; channel events keyed by sender and id.

Revision ID: 0007
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_events") as batch:
        batch.add_column(sa.Column("sender", sa.String(64), nullable=False, server_default=""))
        batch.drop_constraint("uq_channel_events_channel_event_id", type_="unique")
        batch.create_unique_constraint("uq_channel_events_channel_sender_event_id", ["channel", "sender", "event_id"])
    op.create_table(
        "outbox_parts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("event_row_id", sa.Integer, sa.ForeignKey("channel_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),  # encrypted JSON (bot.storage.crypto)
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("provider_message_id", sa.String(64)),
        sa.UniqueConstraint("event_row_id", "seq", name="uq_outbox_parts_event_row_id_seq"),
    )
    op.create_index("ix_outbox_parts_event_row_id", "outbox_parts", ["event_row_id"])
    op.create_index("ix_outbox_parts_status", "outbox_parts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_outbox_parts_status", "outbox_parts")
    op.drop_index("ix_outbox_parts_event_row_id", "outbox_parts")
    op.drop_table("outbox_parts")
    with op.batch_alter_table("channel_events") as batch:
        batch.drop_constraint("uq_channel_events_channel_sender_event_id", type_="unique")
        batch.create_unique_constraint("uq_channel_events_channel_event_id", ["channel", "event_id"])
        batch.drop_column("sender")
