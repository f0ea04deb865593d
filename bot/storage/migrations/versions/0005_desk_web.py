"""The desk on the web: accounts, audit log, assisted submissions, tickets taken by a person, figure indexes.

Revision ID: 0005
Revises: 0004

(The wave's convention is down_revision "0002"; this branch carries the outbox's 0004 copied
unchanged from branch `dossiers`, so 0005 follows it here and Alembic sees one head.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("invite_hash", sa.String(64)),
        sa.Column("invite_expires_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_login_at", sa.DateTime),
    )
    op.create_table(
        "desk_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("desk_accounts.id", ondelete="SET NULL")),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_desk_audit_account_id", "desk_audit", ["account_id"])
    op.create_index("ix_desk_audit_at", "desk_audit", ["at"])
    op.create_table(
        "assisted_submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("desk_accounts.id", ondelete="SET NULL")),
        sa.Column("procedure_code", sa.String(20), nullable=False),
        sa.Column("dossier_code", sa.String(40), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_assisted_submissions_account_id", "assisted_submissions", ["account_id"])
    op.create_index("ix_assisted_submissions_created_at", "assisted_submissions", ["created_at"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("taken_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("first_answer_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("last_answer_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("callback_phone", sa.Text, nullable=True))  # encrypted (bot.storage.crypto)
        batch.create_foreign_key("fk_tickets_assignee_id", "desk_accounts", ["assignee_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("procedure_code", sa.String(20), nullable=True))
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_conversations_started_at", "conversations", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_started_at", "conversations")
    op.drop_index("ix_tickets_created_at", "tickets")
    op.drop_index("ix_feedback_created_at", "feedback")
    op.drop_index("ix_messages_created_at", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("procedure_code")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_assignee_id", type_="foreignkey")
        for column in ("callback_phone", "last_answer_at", "updated_at", "first_answer_at", "taken_at", "assignee_id"):
            batch.drop_column(column)
    op.drop_table("assisted_submissions")
    op.drop_table("desk_audit")
    op.drop_table("desk_accounts")
