"""Personal data at rest: encrypts flow state, ticket summaries, feedback texts, channel state and
pending channel events; masks stored message texts; adds the anonymous retained_counts.

Revision ID: 0003
Revises: 0002

The data key is the engine's (bot.storage.crypto.attach_keyring; the `alembic` command line takes
it from the settings). Masking messages is one way: a downgrade decrypts, it cannot unmask.
"""

from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic import op

from bot.storage.crypto import (
    KEY_CHECK_CHANNEL,
    KEY_CHECK_KEY,
    DataKeyError,
    Keyring,
    check_key,
    keyring_of,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, key columns, column) of every encrypted column.
ENCRYPTED = (
    ("conversations", ("id",), "flow_state"),
    ("tickets", ("id",), "summary"),
    ("feedback", ("id",), "text"),
    ("channel_events", ("id",), "payload"),
    ("channel_state", ("channel", "key"), "value"),
)
# JSON columns become text (a token is not JSON; PostgreSQL would refuse it in a json column).
JSON_COLUMNS = (("conversations", "flow_state"), ("channel_events", "payload"))
BATCH = 500


def _rewrite(table_name: str, keys: tuple[str, ...], column: str, change: Callable[[str], str | None]) -> None:
    """Applies `change` to every value of a column; None from `change` leaves a value as it is.
    Tables keyed by one id are read in batches (messages can be many)."""
    bind = op.get_bind()
    table = sa.table(table_name, *(sa.column(k) for k in keys), sa.column(column, sa.Text))
    query = sa.select(*(table.c[k] for k in keys), table.c[column]).order_by(*(table.c[k] for k in keys))
    last = None
    while True:
        if keys == ("id",):
            page = query.limit(BATCH) if last is None else query.where(table.c.id > last).limit(BATCH)
            rows = bind.execute(page).all()
        else:
            rows = bind.execute(query).all() if last is None else []
        if not rows:
            return
        for row in rows:
            new = change(row[-1]) if row[-1] is not None else None
            if new is not None and new != row[-1]:
                where = sa.and_(*(table.c[k] == row[i] for i, k in enumerate(keys)))
                bind.execute(sa.update(table).where(where).values({column: new}))
        last = rows[-1][0]


def _encrypt_once(keyring: Keyring) -> Callable[[str], str | None]:
    def change(value: str) -> str | None:
        try:
            keyring.decrypt(value)
            return None  # already encrypted (a migration run that stopped half way)
        except DataKeyError:
            return keyring.encrypt(value)

    return change


def _alter_json(to_text: bool) -> None:
    # SQLite: batch mode copies the table; bot.storage.db.migrate turns foreign keys off meanwhile,
    # or dropping the old conversations table would delete every message.
    for table_name, column in JSON_COLUMNS:
        with op.batch_alter_table(table_name) as batch:
            if to_text:
                batch.alter_column(column, type_=sa.Text, existing_type=sa.JSON, existing_nullable=False,
                                   postgresql_using=f"{column}::text")
            else:
                batch.alter_column(column, type_=sa.JSON, existing_type=sa.Text, existing_nullable=False,
                                   postgresql_using=f"{column}::json")


def upgrade() -> None:
    from bot.privacy import mask

    keyring = keyring_of(op.get_bind().dialect)
    _alter_json(to_text=True)
    for table_name, keys, column in ENCRYPTED:
        _rewrite(table_name, keys, column, _encrypt_once(keyring))
    _rewrite("messages", ("id",), "text", mask)
    op.create_table(
        "retained_counts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.UniqueConstraint("month", "metric", "key", name="uq_retained_counts_month_metric_key"),
    )
    check_key(op.get_bind(), keyring)


def downgrade() -> None:
    keyring = keyring_of(op.get_bind().dialect)
    check_key(op.get_bind(), keyring)  # refuses a wrong key before anything is changed
    state = sa.table("channel_state", sa.column("channel"), sa.column("key"))
    op.get_bind().execute(sa.delete(state).where(
        sa.and_(state.c.channel == KEY_CHECK_CHANNEL, state.c.key == KEY_CHECK_KEY)
    ))
    op.drop_table("retained_counts")
    for table_name, keys, column in ENCRYPTED:
        _rewrite(table_name, keys, column, keyring.decrypt)
    _alter_json(to_text=False)
