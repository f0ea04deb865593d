"""The database: engine, migrations, and the Store the Assistant, the desk and the channels share.

The per-person turn lock and the statements a turn runs are in bot/storage/turn_lock.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.storage.crypto import DataKeyError, Keyring, attach_keyring, check_key, keyring_from_settings
from bot.storage.models import ChannelState, Conversation, Message, User, utcnow
from bot.storage.turn_lock import CONVERSATION_GAP, Arrivals, ConversationLock, lock_key

__all__ = ["CONVERSATION_GAP", "ConversationLock", "DatabaseOptions", "Store", "lock_key", "make_engine", "migrate"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Several workers starting at once migrate one after the other (any constant shared by all of them).
MIGRATION_LOCK = 0x7474_6863_0001
# channel_state rows with this channel are leases: key = what is elected, value = "<owner> <expiry>".
LEASES = "lease"


@dataclass(frozen=True)
class DatabaseOptions:
    """A database URL with its pool and timeouts (settings DB_*)."""

    url: str
    pool_size: int = 10
    pool_overflow: int = 10
    pool_timeout: int = 10
    statement_timeout_ms: int = 15000
    lock_timeout_ms: int = 20000


def make_engine(database: str | DatabaseOptions) -> Engine:
    options = database if isinstance(database, DatabaseOptions) else DatabaseOptions(url=database)
    url = options.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql"):
        engine = create_engine(
            # No pre-ping (a round trip per checkout): a connection the server closed fails once, SQLAlchemy
            # then empties the pool, and a turn retries its first statement on a fresh one (ConversationLock).
            url, future=True, pool_pre_ping=False, pool_size=options.pool_size, max_overflow=options.pool_overflow,
            pool_timeout=options.pool_timeout, pool_recycle=1800,
            connect_args={
                "connect_timeout": max(1, options.pool_timeout),
                # A statement (or a wait for a row or a person's turn lock) never hangs a worker for good.
                "options": f"-c statement_timeout={options.statement_timeout_ms}"
                           f" -c lock_timeout={options.lock_timeout_ms}"
                           f" -c idle_in_transaction_session_timeout={options.statement_timeout_ms * 4}",
                "application_name": "tthc-assistant",
            },
        )
        return engine
    if url.startswith("sqlite") and ":memory:" not in url:
        # Kept-open connections: SQLAlchemy 1.4 opens a new SQLite connection per session by default, and
        # closing the last one checkpoints the WAL with an fsync (it was 16 ms of a 65 ms turn).
        engine = create_engine(
            url, future=True, poolclass=QueuePool, pool_size=options.pool_size, max_overflow=options.pool_overflow,
            pool_timeout=options.pool_timeout,
            connect_args={"timeout": options.lock_timeout_ms / 1000, "check_same_thread": False},
        )
    else:
        engine = create_engine(url, future=True, connect_args={"timeout": options.lock_timeout_ms / 1000})
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it safe against crashes; fsync per checkpoint
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
                if engine.dialect.name == "postgresql":  # several workers starting at once migrate one at a time
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                (command.downgrade if downgrade else command.upgrade)(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError(f"migrating {_safe_url(engine)} to {revision} left rows that refer to missing "
                                       "rows (PRAGMA foreign_key_check lists them)")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()

def downgrade(engine: Engine, revision: str) -> None:
    """Takes the schema back to `revision` ("base": no tables)."""
    migrate(engine, revision, downgrade=True)


class Store:
    """Per-turn storage: who is talking, their flow state, what was said."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        # Only PostgreSQL serves several workers; on SQLite the process's own lock is the only one needed.
        self.locking = engine.dialect.name == "postgresql"
        self._arrivals: Arrivals | None = None  # made by the first arrive()

    @classmethod
    def open(cls, database: str | DatabaseOptions, keyring: Keyring | None = None) -> Store:
        """The database (a URL, or the settings' `database` with its pool and timeouts), migrated, with
        personal data encrypted by `keyring` (default: the settings' DATA_KEY or key file). Raises
        DataKeyError when the key is not the database's."""
        if keyring is None:
            from bot.settings import Settings

            keyring = keyring_from_settings(Settings.load())
        engine = make_engine(database)
        attach_keyring(engine, keyring)
        try:
            migrate(engine)
            with engine.begin() as connection:
                check_key(connection, keyring)
        except DataKeyError as e:
            engine.dispose()
            raise DataKeyError(f"{_safe_url(engine)}: {e}") from None
        return cls(engine)

    def conversation_lock(self, channel: str, external_id: str, arrival: int | None = None) -> ConversationLock:
        """`with`, in the turn's worker thread: one turn of this person at a time, after their earlier
        messages (`arrival`: what `arrive` answered when this one came)."""
        return ConversationLock(self, channel, external_id, arrival)

    def arrive(self, channel: str, external_id: str, now: datetime | None = None) -> int | None:
        """Registers a message of the person as it arrives, before it waits for a turn; its turn then runs
        after every earlier one of theirs, whichever worker has it (PostgreSQL; bot/storage/turn_lock.py).
        None on SQLite: one worker, whose in-process queue keeps the order."""
        if not self.locking:
            return None
        if self._arrivals is None:
            self._arrivals = Arrivals(self)
        return self._arrivals.register(channel, external_id, now)

    def close_arrivals(self) -> None:
        """Gives back the connection `arrive` keeps (when the Assistant stops)."""
        if self._arrivals is not None:
            self._arrivals.close()

    def session(self) -> Session:
        return self.sessions()

    def conversation_for(self, session: Session, channel: str, external_id: str, now: datetime) -> Conversation:
        """The person's open conversation (created with the person if need be), in one query when they exist."""
        latest = (
            select(Conversation.id)
            .where(Conversation.user_id == User.id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(1)
            .correlate(User)
            .scalar_subquery()
        )
        row = session.execute(
            select(User, Conversation)
            .outerjoin(Conversation, Conversation.id == latest)
            .where(User.channel == channel, User.external_id == external_id)
        ).first()
        user, conversation = row if row is not None else (None, None)
        if user is None:
            user = User(channel=channel, external_id=external_id, created_at=now, last_seen_at=now)
            session.add(user)
            session.flush()
        user.last_seen_at = now
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
    ) -> Message:
        message = Message(
            conversation_id=conversation.id, direction=direction, text=text,
            intent=intent, confidence=confidence, created_at=now or utcnow(), procedure_code=procedure_code,
        )
        session.add(message)
        return message

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

    def claim_lease(self, name: str, owner: str, ttl: timedelta, now: datetime | None = None) -> bool:
        """Takes or renews the lease `name` for `owner` unless another owner holds it unexpired.

        Elects the one worker that does something only one may do (Telegram's long polling): each worker
        calls this every few seconds; the holder renews, the others take over once it stops renewing.
        """
        now = now or utcnow()
        value = f"{owner} {(now + ttl).isoformat()}"
        try:
            with self.session() as session, session.begin():
                row = session.execute(
                    select(ChannelState).where(ChannelState.channel == LEASES, ChannelState.key == name).with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    session.add(ChannelState(channel=LEASES, key=name, value=value, updated_at=now))
                    return True
                holder, _, until = row.value.partition(" ")
                if holder != owner and until and datetime.fromisoformat(until) > now:
                    return False
                row.value, row.updated_at = value, now
                return True
        except IntegrityError:  # another worker inserted the lease first
            return False

    def release_lease(self, name: str, owner: str) -> None:
        """Gives the lease up at once (a clean stop), so another worker need not wait for it to expire."""
        with self.session() as session, session.begin():
            row = session.get(ChannelState, (LEASES, name), with_for_update=True)
            if row is not None and row.value.partition(" ")[0] == owner:
                session.delete(row)


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
