"""The database: engine, migrations, the per-person turn lock and the few queries the Assistant needs per turn."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.storage.models import ChannelState, Conversation, Message, User, utcnow

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A conversation idle this long is closed; the next message opens a new one.
CONVERSATION_GAP = timedelta(hours=6)
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
            url, future=True, pool_pre_ping=True, pool_size=options.pool_size, max_overflow=options.pool_overflow,
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


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Brings the schema to the newest Alembic revision (no-op when it is current)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # held to the end of this transaction
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Takes the schema back to `revision` ("base": no tables)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def lock_key(channel: str, external_id: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, the same in every worker (hash() is per process)."""
    digest = hashlib.blake2b(f"{channel}:{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ConversationLock:
    """One person's turn lock, held across the whole turn, whichever worker runs it.

    PostgreSQL: a session advisory lock keyed on (channel, person) on a connection of its own, taken
    before the turn reads anything and released after it wrote everything. Waiters queue in the order
    they asked, so one person's messages run one at a time, in order of arrival, across all workers.
    An advisory lock and not `SELECT ... FOR UPDATE` on their row: the flows' own writes (a ticket whose
    foreign key points at the row, "delete my data" removing it) run in other transactions during the
    turn and would wait on a row lock held by the turn itself. A connection that dies drops its lock.
    SQLite: one worker only (checked at start), so the Assistant's in-process lock serialises turns and
    this does nothing.
    """

    def __init__(self, store: Store, channel: str, external_id: str):
        self.store = store
        self.key = lock_key(channel, external_id)
        self.connection: Connection | None = None

    def _connect(self) -> Connection:
        self.connection = self.store.engine.connect()
        return self.connection

    def _release(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            connection.commit()
        except Exception:  # unlock failed: drop the connection, which drops the lock with it
            log.warning("turn lock: unlock failed; closing its connection", exc_info=True)
            connection.invalidate()
        finally:
            connection.close()

    def acquire(self) -> None:
        """Waits for the lock (blocking: call it off the event loop, or after try_acquire failed)."""
        if not self.store.locking:
            return
        connection = self.connection or self._connect()
        try:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
            connection.commit()
        except Exception:
            self.connection = None
            connection.invalidate()
            connection.close()
            raise

    def try_acquire(self) -> bool:
        """Takes the lock if it is free, without waiting."""
        if not self.store.locking:
            return True
        connection = self.connection or self._connect()
        taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        connection.commit()
        return taken

    def __enter__(self) -> ConversationLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    async def __aenter__(self) -> ConversationLock:
        """Asks for the lock at once, in a thread of the store's own, so the loop serves others meanwhile
        and this message takes its place in PostgreSQL's queue in the order it arrived."""
        if self.store.locking:
            await asyncio.get_running_loop().run_in_executor(self.store.lock_waiters, self.acquire)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release()


class Store:
    """Per-turn storage: who is talking, their flow state, what was said."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        # Only PostgreSQL serves several workers; on SQLite the process's own lock is the only one needed.
        self.locking = engine.dialect.name == "postgresql"
        # Threads that wait for turn locks, each on a pooled connection: at most the pool's steady size,
        # leaving the overflow for the turns' own reads and writes.
        self.lock_waiters = ThreadPoolExecutor(max_workers=max(1, engine.pool.size()), thread_name_prefix="turn-lock") \
            if self.locking else None

    @classmethod
    def open(cls, database: str | DatabaseOptions) -> Store:
        engine = make_engine(database)
        migrate(engine)
        return cls(engine)

    def conversation_lock(self, channel: str, external_id: str) -> ConversationLock:
        """`with` (blocking, in a worker thread) or `async with` (on the loop): one turn of this person at a time."""
        return ConversationLock(self, channel, external_id)

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
    ) -> None:
        session.add(Message(
            conversation_id=conversation.id, direction=direction, text=text,
            intent=intent, confidence=confidence, created_at=now or utcnow(),
        ))

    def save_turn(
        self, conversation_id: int, flow_state: dict[str, Any], now: datetime,
        messages: list[tuple[str, str, str | None, float | None]],
    ) -> bool:
        """Stores a turn in one transaction: the flow state, then its messages (direction, text, intent,
        confidence). False, and nothing stored, when the conversation is gone (the person's data was deleted)."""
        from sqlalchemy import insert, update

        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(flow_state=flow_state, updated_at=now)
            ).rowcount
            if not changed:
                return False
            connection.execute(insert(Message), [
                {"conversation_id": conversation_id, "direction": direction, "text": text, "intent": intent,
                 "confidence": confidence, "created_at": now}
                for direction, text, intent, confidence in messages
            ])
        return True

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

    def claim_lease(self, name: str, owner: str, ttl: timedelta, now: datetime | None = None) -> bool:
        """Takes or renews the lease `name` for `owner` unless another owner holds it unexpired.

        Elects the one worker that does something only one may do (Telegram's long polling): each worker
        calls this every few seconds; the holder renews, the others take over once it stops renewing.
        """
        from sqlalchemy.exc import IntegrityError

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
