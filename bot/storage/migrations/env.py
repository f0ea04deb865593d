"""Alembic environment: runs migrations on the connection the app hands over."""

from alembic import context
from sqlalchemy import create_engine

from bot.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: use DATABASE_URL like the app does
    from bot.settings import Settings
    from bot.storage.crypto import attach_keyring, keyring_from_settings

    settings = Settings.load()
    engine = create_engine(settings.database_url_resolved, future=True)
    attach_keyring(engine, keyring_from_settings(settings))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
