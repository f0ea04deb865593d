"""Dossier history, subscriptions, notice contacts, lookup log and the outbox of messages to send.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        batch.add_column(sa.Column("id_last4", sa.String(4), nullable=True))
        batch.add_column(sa.Column("phone_last4", sa.String(4), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("agency", sa.String(40), nullable=True))
    op.create_table(
        "dossier_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(128)),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_dossier_history_source_event"),
    )
    op.create_index("ix_dossier_history_code", "dossier_history", ["code"])
    op.create_table(
        "dossier_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("cancelled_at", sa.DateTime),
        sa.Column("last_status", sa.String(30)),
        sa.Column("polled_at", sa.DateTime),
        sa.Column("poll_failures", sa.Integer, nullable=False),
        sa.UniqueConstraint("channel", "user_id", "code", name="uq_dossier_subscriptions"),
    )
    op.create_index("ix_dossier_subscriptions_code", "dossier_subscriptions", ["code"])
    op.create_table(
        "notice_contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("phone", sa.Text, nullable=False),  # encrypted (bot.storage.crypto)
        sa.Column("consent_at", sa.DateTime),
        sa.Column("last_inbound_at", sa.DateTime),
        sa.UniqueConstraint("channel", "user_id", name="uq_notice_contacts"),
    )
    op.create_table(
        "dossier_lookups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_key", sa.String(160), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_dossier_lookups_user_key", "dossier_lookups", ["user_key"])
    op.create_index("ix_dossier_lookups_code_hash", "dossier_lookups", ["code_hash"])
    op.create_index("ix_dossier_lookups_at", "dossier_lookups", ["at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("replies", sa.Text, nullable=False),  # encrypted JSON
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("via", sa.String(20)),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("received_at", sa.DateTime),
        sa.Column("last_error_code", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("shown_at", sa.DateTime),
        sa.Column("template", sa.Text),  # encrypted JSON
    )
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])
    op.create_index("ix_outbox_provider_message_id", "outbox", ["provider_message_id"])
    op.create_index("ix_outbox_channel_user_id", "outbox", ["channel", "user_id"])
    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("via", sa.String(20)),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer),
    )
    op.create_index("ix_outbox_attempts_outbox_id", "outbox_attempts", ["outbox_id"])


def downgrade() -> None:
    op.drop_table("outbox_attempts")
    op.drop_table("outbox")
    op.drop_table("dossier_lookups")
    op.drop_table("notice_contacts")
    op.drop_table("dossier_subscriptions")
    op.drop_table("dossier_history")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("agency")
        batch.drop_column("status_at")
        batch.drop_column("phone_last4")
        batch.drop_column("id_last4")
