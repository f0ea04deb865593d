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


def migrate(engine: Engine) -> None:
    """Brings the schema to the newest Alembic revision (no-op when it is current)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """Per-turn storage: who is talking, their flow state, what was said."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        engine = make_engine(url)
        migrate(engine)
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
    ) -> None:
        session.add(Message(
            conversation_id=conversation.id, direction=direction, text=text,
            intent=intent, confidence=confidence, created_at=now or utcnow(),
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
            return count + _forget_notices(session, channel, external_id)


def _forget_notices(session: Session, channel: str, external_id: str) -> int:
    """The person's dossier subscriptions, phone for notices, lookup log and messages waiting for them."""
    from sqlalchemy import delete

    from bot.storage.models import DossierSubscription, LookupAttempt, NoticeContact, OutboxMessage

    removed = 0
    for model in (DossierSubscription, NoticeContact, OutboxMessage):
        removed += session.execute(delete(model).where(
            model.channel == channel, model.user_id == external_id)).rowcount or 0
    session.execute(delete(LookupAttempt).where(LookupAttempt.user_key == f"{channel}:{external_id}"))
    return removed
