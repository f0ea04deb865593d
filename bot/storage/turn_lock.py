"""One person's turn against the database: their lock, one read and one write, on one connection.

The statements are written once, as SQL text with the columns' own types (so encryption and masking
are done as for any other write), not built as SQLAlchemy expressions each turn: building, caching and
compiling an expression cost ~0.45 ms a statement, the same query as text ~0.08 ms (the database's own
work is ~0.01 ms of it).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from sqlalchemy import Boolean, DateTime, Float, Integer, String, bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause

from bot.storage.crypto import EncryptedJSON, MaskedText, keyring_of
from bot.storage.models import Conversation, utcnow

if TYPE_CHECKING:
    from bot.storage.db import Store

# A conversation idle this long is closed; the next message opens a new one.
CONVERSATION_GAP = timedelta(hours=6)
# users.last_seen_at is kept to this precision (written at most this often).
SEEN_PRECISION = timedelta(minutes=1)
# A ticket with this status is a person's at the desk: the assistant keeps quiet (bot/handover.py).
TICKET_TAKEN = "taken"
# Outbox rows that could not reach the person, shown with their next answer (bot/outbox.py).
SHOWN_ON_VISIT = ("held", "undeliverable", "failed")
# channel_events status of a message registered on arrival whose turn has not run yet (PostgreSQL).
ARRIVED = "arrived"
# An arrival older than this belongs to a worker that stopped before its turn: the next messages stop waiting for it.
ARRIVAL_STALE = timedelta(seconds=20)
# How long a turn that found an earlier message waiting lets it go first before trying again (doubling, capped).
ARRIVAL_RETRY = (0.005, 0.1)

T = TypeVar("T")


class EarlierMessageWaiting(Exception):
    """An earlier message of the person has not had its turn (another worker has it queued): try this one later."""


def lock_key(channel: str, external_id: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, the same in every worker (hash() is per process)."""
    digest = hashlib.blake2b(f"{channel}:{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# The person, their latest conversation, and whether the rare parts of a turn have anything to do:
# a ticket a person at the desk has taken, notices waiting to be shown, an earlier message of this person
# still waiting for its turn in another worker. One statement, every turn; one row, even for a newcomer.
_READ = text(
    "SELECT u.id AS user_id, u.last_seen_at, c.id AS conversation_id, c.flow_state, c.updated_at,"  # nosec B608: constants and placeholder names only; every value is bound
    f" EXISTS (SELECT 1 FROM tickets t WHERE t.user_id = u.id AND t.status = '{TICKET_TAKEN}') AS desk_taken,"
    " EXISTS (SELECT 1 FROM outbox o WHERE o.channel = :channel AND o.user_id = :external_id"
    f"  AND o.status IN ({', '.join(repr(s) for s in SHOWN_ON_VISIT)}) AND o.shown_at IS NULL) AS notices_waiting,"
    " EXISTS (SELECT 1 FROM channel_events e WHERE e.channel = :channel AND e.sender = :external_id"
    f"  AND e.status = '{ARRIVED}' AND e.id < :arrival AND e.received_at > :fresh) AS earlier_waiting"
    " FROM (SELECT 1 AS one) AS here"
    " LEFT OUTER JOIN users u ON u.channel = :channel AND u.external_id = :external_id"
    " LEFT OUTER JOIN conversations c ON c.id = ("
    "  SELECT c2.id FROM conversations c2 WHERE c2.user_id = u.id ORDER BY c2.updated_at DESC, c2.id DESC LIMIT 1)"
).bindparams(
    bindparam("arrival", type_=Integer), bindparam("fresh", type_=DateTime),
).columns(
    user_id=Integer, last_seen_at=DateTime, conversation_id=Integer, flow_state=EncryptedJSON, updated_at=DateTime,
    desk_taken=Boolean, notices_waiting=Boolean, earlier_waiting=Boolean,
)
# A message of the person, registered the moment it arrives (before it waits for a turn thread): the order
# of these ids is the order their turns run in, whichever worker holds each (PostgreSQL). Driver SQL on a
# connection of its own: a message pays ~0.1 ms for it, not the ~0.25 ms of a pooled, typed statement.
_ARRIVE = (
    "INSERT INTO channel_events (channel, sender, event_id, payload, status, attempts, received_at)"  # nosec B608: constants and placeholder names only; every value is bound
    f" VALUES (%s, %s, %s, %s, '{ARRIVED}', 0, %s) RETURNING id"
)
_ARRIVAL_DONE = "DELETE FROM channel_events WHERE id = %(arrival)s"
_STATE = Conversation.__table__.c.flow_state.type
_SEEN = text("UPDATE users SET last_seen_at = :now WHERE id = :user_id").bindparams(bindparam("now", type_=DateTime))
_UPDATE_STATE = text("UPDATE conversations SET flow_state = :state, updated_at = :now WHERE id = :conversation_id") \
    .bindparams(bindparam("state", type_=_STATE), bindparam("now", type_=DateTime))
# A newcomer's first message (a province's announcement brings thousands at once): two statements.
_NEW_PERSON = text(
    "INSERT INTO users (channel, external_id, created_at, last_seen_at) VALUES (:channel, :external_id, :now, :now)"
    " ON CONFLICT (channel, external_id) DO NOTHING"
).bindparams(bindparam("now", type_=DateTime))
_NEW_CONVERSATION = text(
    "INSERT INTO conversations (user_id, started_at, updated_at, flow_state)"
    " SELECT id, :now, :now, :state FROM users WHERE channel = :channel AND external_id = :external_id"
).bindparams(bindparam("now", type_=DateTime), bindparam("state", type_=_STATE))
_INSERT_MESSAGE = text(
    "INSERT INTO messages (conversation_id, direction, text, intent, confidence, procedure_code, created_at)"
    " VALUES (:conversation_id, :direction, :text, :intent, :confidence, :procedure_code, :now)"
).bindparams(bindparam("text", type_=MaskedText), bindparam("now", type_=DateTime))


@lru_cache(maxsize=64)
def _save_in_one(messages: int, seen: bool) -> TextClause:
    """PostgreSQL: the state's UPDATE feeds the messages' INSERT (and the last-seen UPDATE rides along), one
    round trip; no conversation (deleted meanwhile) inserts nothing. Messages keep their order (ids follow n)."""
    rows = ", ".join(
        f"({n}, :d{n}, :t{n}, CAST(:i{n} AS VARCHAR), CAST(:c{n} AS FLOAT), CAST(:p{n} AS VARCHAR))"
        for n in range(messages)
    )
    seen_cte = ", seen AS (UPDATE users SET last_seen_at = :now WHERE id = :user_id)" if seen else ""
    return text(
        "WITH turned AS (UPDATE conversations SET flow_state = :state, updated_at = :now"  # nosec B608: constants and placeholder names only; every value is bound
        f" WHERE id = :conversation_id RETURNING id){seen_cte}"
        " INSERT INTO messages (conversation_id, direction, text, intent, confidence, procedure_code, created_at)"
        " SELECT turned.id, said.direction, said.text, said.intent, said.confidence, said.procedure_code, :now"
        f" FROM turned CROSS JOIN (VALUES {rows}) AS said (n, direction, text, intent, confidence, procedure_code)"
        " ORDER BY said.n"
    ).bindparams(
        bindparam("state", type_=_STATE), bindparam("now", type_=DateTime),
        *(bindparam(f"t{n}", type_=MaskedText) for n in range(messages)),
        *(bindparam(f"d{n}", type_=String) for n in range(messages)),
        *(bindparam(f"c{n}", type_=Float) for n in range(messages)),
    )


def _autocommit(store: Store, run: Callable[[Connection], T]) -> tuple[Connection, T]:
    """A pooled connection in the driver's autocommit mode (PostgreSQL), with `run` done on it: the
    transaction, if any, is ours to begin and end, so that BEGIN travels with the first statement."""
    for attempt in (1, 2):
        connection = store.engine.connect()
        try:
            connection.connection.dbapi_connection.autocommit = True
            return connection, run(connection)
        except DBAPIError as e:
            connection.invalidate()
            connection.close()
            # A connection the server closed (a restart): the pool is emptied, try once more on a new one.
            # This replaces pre-pinging every checkout, a round trip each.
            if e.connection_invalidated and attempt == 1:
                continue
            raise
        except Exception:
            connection.invalidate()
            connection.close()
            raise
    raise AssertionError("unreachable")


class Arrivals:
    """Registers messages as they arrive (PostgreSQL), on one connection kept for it in autocommit mode."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()  # one thread registers (the Assistant's); a test may call from another
        self._connection: Connection | None = None
        # channel_events.payload is encrypted; an arrival carries nothing, so one token of "{}" serves all.
        self._empty = keyring_of(store.engine.dialect).encrypt("{}")

    def register(self, channel: str, external_id: str, now: datetime | None = None) -> int:
        row = (channel, external_id, f"arrival:{secrets.token_hex(12)}", self._empty, now or utcnow())
        with self._lock:
            for attempt in (1, 2):
                if self._connection is None:
                    self._connection = self.store.engine.connect()
                    self._connection.connection.dbapi_connection.autocommit = True
                try:
                    arrival = self._connection.exec_driver_sql(_ARRIVE, row).scalar_one()
                    self._connection.commit()  # nothing to commit (autocommit): SQLAlchemy's own bookkeeping
                    return int(arrival)
                except DBAPIError as e:
                    self._drop()
                    # A connection the server closed (a restart): SQLAlchemy has emptied the pool, so a new one.
                    if e.connection_invalidated and attempt == 1:
                        continue
                    raise
                except Exception:
                    self._drop()
                    raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.invalidate()
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop()


class ConversationLock:
    """One person's turn, held whole against their other messages, whichever worker runs them.

    PostgreSQL: the turn is one transaction on one connection that starts by taking a transaction
    advisory lock keyed on (channel, person) and ends by committing the turn's writes, which releases
    it: the next message of that person reads what this one wrote. An advisory lock and not
    `SELECT ... FOR UPDATE` on their row: the flows' own writes (a ticket whose foreign key points at
    the row, "delete my data" removing it) run in other transactions during the turn and would wait on
    a row lock held by the turn itself; the turn takes no row lock until its final writes. A connection
    that dies drops its lock. Round trips per turn: lock, read, one write, commit.
    In order: waiters of the lock queue in the order they asked, but a message that waited for a turn
    thread in a busy worker may ask after a later one that a free worker took at once. So each message
    is registered on arrival (`Arrivals`, before it waits for a thread), and a turn whose read
    finds an earlier message of the person still waiting lets go of the lock (EarlierMessageWaiting)
    and is tried again a moment later, its thread free meanwhile for other people's turns.
    SQLite: one worker only (checked at start), so the Assistant's in-process lock serialises turns;
    the read and the writes are two short transactions (a transaction held open across the flows
    would collide with their writes).

    After `read`: `desk_taken` (a person at the desk has the conversation) and `notices_waiting`
    (notices that could not be delivered wait to be shown), so that a turn with neither, nearly every
    one, asks the database nothing else.
    """

    def __init__(self, store: Store, channel: str, external_id: str, arrival: int | None = None):
        self.store = store
        self.channel = channel
        self.external_id = external_id
        self.key = lock_key(channel, external_id)
        self.arrival = arrival  # this message's registration (register_arrival), ended with the turn
        self.connection: Connection | None = None
        self.user_id: int | None = None
        self.seen_at: datetime | None = None
        self.desk_taken = False
        self.notices_waiting = False

    def acquire(self) -> None:
        """Waits for the person's lock (blocking: the turn's worker thread runs it, never the event loop)."""
        if not self.store.locking:
            self.connection = self.store.engine.connect()
            return
        lock = {"key": self.key}
        self.connection, _ = _autocommit(
            self.store, lambda c: c.exec_driver_sql("BEGIN; SELECT pg_advisory_xact_lock(%(key)s)", lock))

    def release(self, failed: bool = False, again: bool = False) -> None:
        """Commits the turn (or rolls it back after an error), which lets the person's next message in.

        The message's arrival ends with its turn, whatever became of it, in the same round trip; unless
        the turn is to be tried `again` (it let an earlier message go first)."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            if self.store.locking:
                done = self.arrival is not None and not again
                if failed:
                    connection.exec_driver_sql(f"ROLLBACK; {_ARRIVAL_DONE}" if done else "ROLLBACK", {"arrival": self.arrival})
                else:
                    connection.exec_driver_sql(f"{_ARRIVAL_DONE}; COMMIT" if done else "COMMIT", {"arrival": self.arrival})
                connection.connection.dbapi_connection.autocommit = False
            elif failed:
                connection.rollback()
            else:
                connection.commit()
        except Exception:
            connection.invalidate()  # a connection in an unknown state never goes back to the pool
            raise
        finally:
            connection.close()

    def read(self, now: datetime) -> tuple[int, dict[str, Any]]:
        """The person's open conversation (id, flow state), created with the person if need be.

        Raises EarlierMessageWaiting when an earlier message of the person, registered on arrival, has not
        had its turn yet (it waits in another worker): the turn lets go of the lock and is tried again."""
        assert self.connection is not None, "acquire() first"
        row = self._read()
        if row.earlier_waiting:
            raise EarlierMessageWaiting(f"{self.channel}: an earlier message of the person has not had its turn")
        if row.user_id is None or row.conversation_id is None or now - row.updated_at > CONVERSATION_GAP:
            self._create(now, row.user_id)
            row = self._read()
            assert row.conversation_id is not None
        self.user_id = row.user_id
        # Written at most once a minute: a round trip saved on most turns of a conversation.
        self.seen_at = row.last_seen_at
        self.desk_taken, self.notices_waiting = bool(row.desk_taken), bool(row.notices_waiting)
        if not self.store.locking:
            self.connection.commit()
        return row.conversation_id, dict(row.flow_state or {})

    def _read(self) -> Any:
        assert self.connection is not None
        return self.connection.execute(_READ, {
            "channel": self.channel, "external_id": self.external_id, "arrival": self.arrival,
            "fresh": utcnow() - ARRIVAL_STALE,
        }).one()

    def _create(self, now: datetime, user_id: int | None) -> None:
        """Makes the person and/or a new conversation in a transaction of its own, committed at once, so that
        the flows' own transactions see them (the lock's transaction stays open, and reads them next)."""
        values = {"channel": self.channel, "external_id": self.external_id, "now": now, "state": {}}
        with self.store.engine.begin() as connection:
            if user_id is None:  # made a moment ago by another worker's first turn: theirs is used
                connection.execute(_NEW_PERSON, values)
            connection.execute(_NEW_CONVERSATION, values)

    def save(self, conversation_id: int, flow_state: dict[str, Any], now: datetime,
             messages: list[tuple[str, str, str | None, float | None, str | None]]) -> bool:
        """Stores the turn: flow state, the person's last message time, the messages (direction, text,
        intent, confidence, the procedure talked about). False, and nothing stored, when the conversation
        is gone (data deleted)."""
        connection = self.connection
        assert connection is not None, "acquire() first"
        seen = self.seen_at is None or now - self.seen_at >= SEEN_PRECISION
        turn = {"state": flow_state, "now": now, "conversation_id": conversation_id, "user_id": self.user_id}
        if self.store.locking and messages:  # one round trip: the state's UPDATE feeds the messages' INSERT
            for n, (direction, said, intent, confidence, procedure_code) in enumerate(messages):
                turn.update({f"d{n}": direction, f"t{n}": said, f"i{n}": intent, f"c{n}": confidence,
                             f"p{n}": procedure_code})
            return bool(connection.execute(_save_in_one(len(messages), seen), turn).rowcount)
        changed = connection.execute(_UPDATE_STATE, turn).rowcount
        if changed and messages:
            connection.execute(_INSERT_MESSAGE, [
                {"conversation_id": conversation_id, "now": now, "direction": direction, "text": said,
                 "intent": intent, "confidence": confidence, "procedure_code": procedure_code}
                for direction, said, intent, confidence, procedure_code in messages
            ])
        if changed and seen:
            connection.execute(_SEEN, turn)
        if not self.store.locking:
            connection.commit()
        return bool(changed)

    def __enter__(self) -> ConversationLock:
        self.acquire()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.release(failed=kind is not None, again=kind is EarlierMessageWaiting)
