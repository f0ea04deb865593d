"""What a channel has accepted and what it owes, in the database, so a crash loses neither.

Inbound: an event is stored (channel_events, unique per channel, sender and the channel's
own id) before the platform gets its 200. Outbound: the messages of the reply are
recorded (outbox_parts, one row per message) before the first is sent, each marked sent
as it goes. An event moves

    pending --claim--> processing --turn ran, parts recorded--> sending --all sent--> done
                                                                 |                  \\-> failed
    (a crash) processing: turn never ran -> pending (run again)
                          turn ran, parts unrecorded -> its stored reply texts become the parts
              sending:    -> outbox (unsent parts sent again by the next worker that claims it)

Claims are single-winner on every database (UPDATE ... WHERE status = <expected>), and on
PostgreSQL the rows are first locked with SELECT ... FOR UPDATE SKIP LOCKED, so workers
in several processes skip rows another has in hand instead of queueing behind them.
SQLite runs one worker: at start every claim it finds belonged to a process that died.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.privacy import mask
from bot.storage import ChannelEvent, Conversation, Message, Store, User
from bot.storage.models import OutboxPart, utcnow

log = logging.getLogger(__name__)

# A claim older than this, on a database several workers share, belongs to a worker that died.
CLAIM_LEASE = timedelta(minutes=2)
CLAIMABLE = {"pending": "processing", "outbox": "sending"}


@dataclass(frozen=True)
class Claim:
    row_id: int
    phase: str  # "turn": run the turn first; "send": only the recorded parts remain
    payload: dict[str, Any]
    sender: str
    claimed_at: datetime
    attempts: int = 1  # claims of this event so far, this one included


@dataclass(frozen=True)
class Part:
    id: int
    seq: int
    message: dict[str, Any]
    resent: bool  # it was being sent when a worker died: it may have arrived
    created_at: datetime


def without_content(payload: dict[str, Any]) -> dict[str, Any]:
    """The event minus what the user wrote or sent (privacy); the msg_id stays for deduplication."""
    if "update_id" in payload:  # Telegram: the update's id is all that is kept
        return {"update_id": payload["update_id"]}
    kept = {k: v for k, v in payload.items() if k != "message"}
    message = payload.get("message")
    if isinstance(message, dict):
        kept["message"] = {"msg_id": message.get("msg_id")}
    return kept


class EventInbox:
    """A channel's events and the parts of their replies: stored once, claimed by one worker, finished."""

    def __init__(self, store: Store, channel: str):
        self.store = store
        self.channel = channel
        self.lease = CLAIM_LEASE

    @property
    def _shared(self) -> bool:
        """Whether other processes' workers may hold claims (PostgreSQL) or only this one (SQLite)."""
        return self.store.engine.dialect.name != "sqlite"

    def record(self, sender: str, event_id: str, payload: dict[str, Any], now: datetime) -> int | None:
        """Stores a new event and answers its row id; None when this sender's event id was stored before."""
        try:
            with self.store.session() as session, session.begin():
                event = ChannelEvent(channel=self.channel, sender=sender, event_id=event_id, payload=payload,
                                     status="pending", attempts=0, received_at=now)
                session.add(event)
                session.flush()
                return int(event.id)
        except IntegrityError:
            return None

    def claim(self, row_id: int, now: datetime) -> Claim | None:
        """Takes a pending event (or one whose parts are waiting) for this worker; None if another has it."""
        with self.store.session() as session, session.begin():
            query = select(ChannelEvent.status).where(ChannelEvent.id == row_id)
            if self._shared:
                query = query.with_for_update(skip_locked=True)
            status = session.execute(query).scalar_one_or_none()
            if status not in CLAIMABLE:
                return None
            taken = session.execute(
                update(ChannelEvent)
                .where(ChannelEvent.id == row_id, ChannelEvent.status == status)
                .values(status=CLAIMABLE[status], attempts=ChannelEvent.attempts + 1, processed_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:
                return None
            payload, sender, attempts = session.execute(
                select(ChannelEvent.payload, ChannelEvent.sender, ChannelEvent.attempts).where(ChannelEvent.id == row_id)
            ).one()
            return Claim(row_id, "turn" if status == "pending" else "send", dict(payload or {}), str(sender), now,
                         int(attempts))

    def release(self, row_id: int) -> None:
        """Gives an event back before its turn ran (shutdown), so it is answered at the next start."""
        self._set(row_id, "processing", status="pending", processed_at=None)

    def requeue(self, row_id: int) -> None:
        """Leaves an event's unsent parts for the next worker (shutdown while sending)."""
        self._set(row_id, "sending", status="outbox")

    def record_parts(self, claim: Claim, messages: Sequence[dict[str, Any]]) -> None:
        """The reply's messages, in order, before the first is sent (the event then waits on them)."""
        with self.store.session() as session, session.begin():
            self._add_parts(session, claim.row_id, claim.sender, messages)
            session.execute(update(ChannelEvent).where(ChannelEvent.id == claim.row_id)
                            .values(status="sending").execution_options(synchronize_session=False))

    def _add_parts(self, session: Session, row_id: int, recipient: str, messages: Sequence[dict[str, Any]]) -> None:
        for seq, message in enumerate(messages):
            session.add(OutboxPart(channel=self.channel, event_row_id=row_id, recipient=recipient, seq=seq,
                                   message=message, status="pending", attempts=0, created_at=utcnow()))

    def unsent_parts(self, row_id: int) -> list[Part]:
        with self.store.session() as session:
            rows = session.execute(
                select(OutboxPart.id, OutboxPart.seq, OutboxPart.message, OutboxPart.status, OutboxPart.created_at)
                .where(OutboxPart.event_row_id == row_id, OutboxPart.status.in_(("pending", "sending")))
                .order_by(OutboxPart.seq)
            ).all()
        return [Part(int(i), int(seq), dict(message), status == "sending", created)
                for i, seq, message, status, created in rows]

    def sending(self, part: Part, now: datetime) -> None:
        """Marks a part as being posted (a crash from here on means it may have arrived)."""
        with self.store.session() as session, session.begin():
            session.execute(update(OutboxPart).where(OutboxPart.id == part.id)
                            .values(status="sending", attempts=OutboxPart.attempts + 1)
                            .execution_options(synchronize_session=False))
            # The worker is alive: its claim on the event is renewed with each part.
            session.execute(update(ChannelEvent).where(ChannelEvent.id == session.execute(
                select(OutboxPart.event_row_id).where(OutboxPart.id == part.id)).scalar_one())
                .values(processed_at=now).execution_options(synchronize_session=False))

    def sent(self, part: Part, provider_id: str, now: datetime) -> None:
        with self.store.session() as session, session.begin():
            session.execute(update(OutboxPart).where(OutboxPart.id == part.id)
                            .values(status="sent", sent_at=now, provider_message_id=provider_id[:64] or None)
                            .execution_options(synchronize_session=False))

    def fail_parts(self, row_id: int, error: str) -> None:
        with self.store.session() as session, session.begin():
            session.execute(update(OutboxPart)
                            .where(OutboxPart.event_row_id == row_id, OutboxPart.status.in_(("pending", "sending")))
                            .values(status="failed", error=mask(error)[:2000])
                            .execution_options(synchronize_session=False))

    def finish(self, row_id: int, status: str, error: str | None, now: datetime) -> None:
        with self.store.session() as session, session.begin():
            event = session.get(ChannelEvent, row_id)
            if event is None:
                return
            event.status = status
            event.error = mask(error)[:2000] if error else None
            event.processed_at = now
            event.payload = without_content(dict(event.payload or {}))

    def _set(self, row_id: int, expected: str, **values: Any) -> None:
        with self.store.session() as session, session.begin():
            session.execute(update(ChannelEvent).where(ChannelEvent.id == row_id, ChannelEvent.status == expected)
                            .values(**values).execution_options(synchronize_session=False))

    # recovery ---------------------------------------------------------------------------

    def recover(self, now: datetime, at_start: bool) -> int:
        """Claims whose worker died: run the turn again if it never ran, else send what was not sent.

        At start on SQLite every claim is this process's dead predecessor's; otherwise a claim
        is dead once its lease has run out. Answers how many events were recovered.
        """
        query = select(ChannelEvent).where(ChannelEvent.channel == self.channel,
                                           ChannelEvent.status.in_(("processing", "sending")))
        if self._shared or not at_start:
            query = query.where(ChannelEvent.processed_at < now - self.lease)
        if self._shared:
            query = query.with_for_update(skip_locked=True)
        with self.store.session() as session, session.begin():
            events = session.execute(query).scalars().all()
            for event in events:
                if event.status == "sending":
                    event.status = "outbox"
                    log.warning("%s event %s: the worker died while sending; unsent parts go out again",
                                self.channel, event.id)
                elif not self._turn_ran(session, event):
                    event.status, event.processed_at = "pending", None
                    log.warning("%s event %s: the worker died before the turn ran; it is run again",
                                self.channel, event.id)
                else:
                    texts = self._stored_reply_texts(session, event)
                    self._add_parts(session, event.id, event.sender, [{"text": t} for t in texts])
                    event.status = "outbox"
                    log.warning("%s event %s: the worker died after the turn ran; its %d stored reply text(s) "
                                "are sent (buttons cannot be recovered)", self.channel, event.id, len(texts))
            return len(events)

    def _turn_messages(self, session: Session, event: ChannelEvent, direction: str) -> Any:
        return (
            select(Message.text).join(Conversation, Message.conversation_id == Conversation.id)
            .join(User, Conversation.user_id == User.id)
            .where(User.channel == self.channel, User.external_id == event.sender, Message.direction == direction,
                   Message.created_at >= event.processed_at)
            .order_by(Message.id)
        )

    def _turn_ran(self, session: Session, event: ChannelEvent) -> bool:
        if event.processed_at is None:
            return False
        return session.execute(self._turn_messages(session, event, "in").limit(1)).first() is not None

    def _stored_reply_texts(self, session: Session, event: ChannelEvent) -> list[str]:
        return [str(t) for t in session.execute(self._turn_messages(session, event, "out")).scalars() if t]

    def stored(self, row_id: int) -> tuple[str, dict[str, Any]]:
        """An event's status and payload."""
        with self.store.session() as session:
            status, payload = session.execute(
                select(ChannelEvent.status, ChannelEvent.payload).where(ChannelEvent.id == row_id)
            ).one()
        return str(status), dict(payload or {})

    def settle(self, row_id: int) -> None:
        """An event whose handler has ended: done if nothing claimed it, failed if its turn was left mid-way."""
        with self.store.session() as session, session.begin():
            event = session.get(ChannelEvent, row_id)
            if event is None or event.status not in ("pending", "processing"):
                return
            failed = event.status == "processing"
            event.status = "failed" if failed else "done"
            event.error = "the handler failed; see the log" if failed else None
            event.processed_at = utcnow()
            event.payload = without_content(dict(event.payload or {}))

    def waiting(self, received_before: datetime | None = None) -> list[tuple[int, str]]:
        """(row id, sender) of events to work on (not yet answered, or parts left to send), oldest first."""
        query = select(ChannelEvent.id, ChannelEvent.sender).where(
            ChannelEvent.channel == self.channel, ChannelEvent.status.in_(tuple(CLAIMABLE))
        )
        if received_before is not None:
            query = query.where(ChannelEvent.received_at < received_before)
        with self.store.session() as session:
            rows = session.execute(query.order_by(ChannelEvent.id)).all()
        return [(int(row_id), str(sender)) for row_id, sender in rows]
