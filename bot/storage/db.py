"""The database: engine, migrations and the few queries the Assistant needs per turn."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.crypto import DataKeyError, Keyring, attach_keyring, check_key, keyring_from_settings
from bot.storage.models import Conversation, Message, User, utcnow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A conversation idle this long is closed; the next message opens a new one.
CONVERSATION_GAP = timedelta(hours=6)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def migrate(engine: Engine, revision: str = "head", downgrade: bool = False) -> None:
    """Brings the schema to the newest Alembic revision (no-op when it is current), or to `revision`.

    On SQLite, foreign keys are off while migrating: Alembic's batch mode changes a column by
    copying the table and dropping the old one, and that DROP would cascade-delete the rows that
    refer to it (a conversation's messages). References are checked before the migration commits.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only outside a transaction
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                (command.downgrade if downgrade else command.upgrade)(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError(f"migrating {_safe_url(engine)} to {revision} left rows that refer to missing "
                                       "rows (PRAGMA foreign_key_check lists them)")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


class Store:
    """Per-turn storage: who is talking, their flow state, what was said."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, keyring: Keyring | None = None) -> Store:
        """The database at `url`, migrated, with personal data encrypted by `keyring` (default: the
        settings' DATA_KEY or key file). Raises DataKeyError when the key is not the database's."""
        if keyring is None:
            from bot.settings import Settings

            keyring = keyring_from_settings(Settings.load())
        engine = make_engine(url)
        attach_keyring(engine, keyring)
        try:
            migrate(engine)
            with engine.begin() as connection:
                check_key(connection, keyring)
        except DataKeyError as e:
            engine.dispose()
            raise DataKeyError(f"{_safe_url(engine)}: {e}") from None
        return cls(engine)

    def session(self) -> Session:
        return self.sessions()

    def conversation_for(self, session: Session, channel: str, external_id: str, now: datetime) -> Conversation:
        user = session.execute(
            select(User).where(User.channel == channel, User.external_id == external_id)
        ).scalar_one_or_none()
        if user is None:
            user = User(channel=channel, external_id=external_id, created_at=now, last_seen_at=now)
            session.add(user)
            session.flush()
        user.last_seen_at = now
        conversation = session.execute(
            select(Conversation)
            .where(Conversation.user_id == user.id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if conversation is None or now - conversation.updated_at > CONVERSATION_GAP:
            conversation = Conversation(user_id=user.id, started_at=now, updated_at=now, flow_state={})
            session.add(conversation)
            session.flush()
        return conversation

    @staticmethod
    def add_message(
        session: Session, conversation: Conversation, direction: str, text: str,
        intent: str | None = None, confidence: float | None = None, now: datetime | None = None,
        procedure_code: str | None = None,
    ) -> None:
        session.add(Message(
            conversation_id=conversation.id, direction=direction, text=text,
            intent=intent, confidence=confidence, created_at=now or utcnow(), procedure_code=procedure_code,
        ))

    def forget(self, channel: str, external_id: str) -> int:
        """Deletes a user with their conversations, messages, tickets and feedback; returns rows removed."""
        with self.session() as session, session.begin():
            user = session.execute(
                select(User).where(User.channel == channel, User.external_id == external_id)
            ).scalar_one_or_none()
            if user is None:
                return 0
            count = 1 + sum(1 + len(c.messages) for c in user.conversations) + len(user.tickets) + len(user.feedback)
            session.delete(user)
            return count
