"""The outbox: messages the assistant sends on its own (dossier notices, staff replies), sent once.

Writing: call `enqueue(session, channel, user_id, replies, kind, dedupe_key)` inside the SAME
transaction as the change that causes the message (a dossier's new status, a staff reply). Either
both are stored or neither; `dedupe_key` is unique, so the same cause enqueued twice (a replayed
event, two workers) stores one message.

Sending: one `Dispatcher` per process, with a `Sender` registered per channel at start-up
(`dispatcher.register("telegram", TelegramSender(...))`). `dispatch_once()` claims due rows with
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (several workers never take the same row; SQLite
runs one worker), marks them `sending`, sends outside the transaction and records the result:

    pending --claim--> sending --Delivery.sent--------> delivered  (received_at set by a receipt)
                               --Delivery.retry-------> pending, next_attempt_at = now + backoff
                                                         (after `max_attempts`: failed)
                               --Delivery.held--------> held          shown on the person's next visit
                               --Delivery.undeliverable> undeliverable  (also shown on the next visit)

A row left `sending` by a killed process is claimed again after `lease` (at least once: the crash
may have come after the platform accepted it). Every try is an `outbox_attempts` row with the
platform's raw error code. `take_for_visit(session, channel, user_id)` answers held and
undeliverable messages as replies when the person writes again, marking them shown.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from bot.storage import Store
from bot.storage.models import OutboxAttempt, OutboxMessage, utcnow
from bot.storage.turn_lock import SHOWN_ON_VISIT
from flows.replies import Button, ChecklistItem, Link, Reply

log = logging.getLogger(__name__)

SENT, RETRY, HELD, UNDELIVERABLE = "sent", "retry", "held", "undeliverable"
assert set(SHOWN_ON_VISIT) == {HELD, UNDELIVERABLE, "failed"}, "a turn's read looks for the statuses shown on a visit"


@dataclass(frozen=True)
class Delivery:
    """What a Sender did with one message.

    outcome: "sent" (the platform accepted it), "retry" (try later: network, 5xx, rate limit),
    "held" (no way to push it now: shown on the next visit), "undeliverable" (blocked bot,
    closed window and no phone: recorded, never retried; also shown on the next visit).
    """

    outcome: str
    via: str = ""  # the route taken: telegram, zalo, zns, web
    message_id: str = ""  # the platform's id, for delivery receipts
    error_code: str = ""  # the platform's raw code, e.g. "-230", "403"
    error: str = ""
    retry_after: float | None = None  # seconds, when the platform said so


class Sender(Protocol):
    """Sends replies to one person on one channel; never raises for a platform error (answers a Delivery).

    A message enqueued with `template` (named values, for template channels such as Zalo ZNS) is
    sent as `send(user_id, replies, template=...)`; senders that have no use for it take `**_`.
    """

    async def send(self, user_id: str, replies: list[Reply]) -> Delivery: ...


def replies_to_json(replies: Iterable[Reply]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in replies]


def replies_from_json(raw: Iterable[dict[str, Any]]) -> list[Reply]:
    return [
        Reply(
            text=str(r.get("text", "")),
            buttons=tuple(Button(b["title"], b["payload"]) for b in r.get("buttons") or ()),
            links=tuple(Link(lk["title"], lk["url"]) for lk in r.get("links") or ()),
            checklist=tuple(ChecklistItem(c["text"], bool(c.get("done"))) for c in r.get("checklist") or ()),
        )
        for r in raw
    ]


def enqueue(
    session: Session, channel: str, user_id: str, replies: Iterable[Reply], kind: str, dedupe_key: str,
    now: datetime | None = None, template: dict[str, str] | None = None,
) -> bool:
    """Adds a message to send, in the caller's transaction; False when `dedupe_key` is already there.

    A twin inserted by another worker at the same moment makes the caller's commit fail with
    IntegrityError (the unique key): roll back and retry the whole change, which then finds the twin.
    """
    dedupe_key = dedupe_key[:200]
    if session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return False
    now = now or utcnow()
    session.add(OutboxMessage(
        channel=channel, user_id=user_id, kind=kind, dedupe_key=dedupe_key,
        replies=replies_to_json(replies), status="pending", attempts=0, next_attempt_at=now, created_at=now,
        template=template,
    ))
    return True


def take_for_visit(session: Session, channel: str, user_id: str, now: datetime | None = None) -> list[Reply]:
    """Held and undeliverable messages for this person, oldest first, marked shown (call on their next turn)."""
    rows = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.channel == channel, OutboxMessage.user_id == user_id,
               OutboxMessage.status.in_(SHOWN_ON_VISIT), OutboxMessage.shown_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(20)
    ).scalars().all()
    replies: list[Reply] = []
    for row in rows:
        row.shown_at = now or utcnow()
        replies.extend(replies_from_json(row.replies))
    return replies


def record_receipt(session: Session, message_id: str, at: datetime | None = None) -> bool:
    """A delivery receipt from the platform (e.g. Zalo's user_received_message); False when unknown."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.provider_message_id == message_id, OutboxMessage.received_at.is_(None))
        .values(received_at=at or utcnow())
    )
    return bool(result.rowcount)


class Dispatcher:
    """Claims due outbox rows and sends them through the registered per-channel senders."""

    def __init__(
        self, store: Store, *, batch: int = 20, max_attempts: int = 6, backoff_base: float = 5.0,
        backoff_cap: float = 3600.0, lease: timedelta = timedelta(minutes=5), interval: float = 2.0,
    ):
        self.store = store
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.lease = lease
        self.interval = interval
        self.senders: dict[str, Sender] = {}
        self._wake: asyncio.Event | None = None  # made by run(), in the loop it runs in
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, channel: str, sender: Sender) -> None:
        """The sender for one channel; rows of a channel without one are held for the next visit."""
        self.senders[channel] = sender

    def wake(self) -> None:
        """Something was enqueued: dispatch now rather than at the next interval (from any thread)."""
        if self._wake is None or self._loop is None:
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop:
            self._wake.set()
        else:  # a worker thread (a turn, a desk action): asyncio's objects belong to their loop
            self._loop.call_soon_threadsafe(self._wake.set)

    def backoff(self, attempts: int) -> float:
        """Seconds before try `attempts + 1`: exponential, capped, with jitter so workers spread out."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    def due(self, now: datetime) -> Select:
        """The rows to claim; FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite has one writer and ignores it)."""
        return (
            select(OutboxMessage)
            .where(or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at < now - self.lease),
            ))
            .order_by(OutboxMessage.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )

    def claim(self, now: datetime) -> list[tuple[int, str, str, list[dict[str, Any]], int, dict[str, str] | None]]:
        """Due rows (pending, or sending past the lease), marked sending in one short transaction.

        Each row is taken with a conditional UPDATE (still due?) as well: SQLite has no row locks,
        so two dispatchers (or a second worker) that read the same row cannot both send it.
        """
        with self.store.session() as session, session.begin():
            rows = session.execute(self.due(now)).scalars().all()
            claimed = []
            for row in rows:
                taken = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.attempts == row.attempts, or_(
                        OutboxMessage.status == "pending",
                        (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at < now - self.lease),
                    ))
                    .values(status="sending", claimed_at=now, attempts=row.attempts + 1)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    claimed.append((row.id, row.channel, row.user_id, list(row.replies), row.attempts + 1, row.template))
            return claimed

    async def dispatch_once(self) -> int:
        """Sends what is due now; answers how many rows were tried."""
        try:
            claimed = await asyncio.to_thread(self.claim, utcnow())
        except OperationalError as e:  # SQLite: another dispatcher was claiming at the same moment
            log.debug("outbox: claim skipped (%s)", type(e).__name__)
            return 0
        for row_id, channel, user_id, raw, attempts, template in claimed:
            sender = self.senders.get(channel)
            started = time.monotonic()
            if sender is None:
                delivery = Delivery(HELD, via=channel, error="no sender for this channel")
            else:
                try:
                    extra = {"template": template} if template else {}
                    delivery = await sender.send(user_id, replies_from_json(raw), **extra)
                except Exception as e:  # a sender bug must not stop the others; tried again later
                    log.exception("outbox: sender for %s failed on message %d", channel, row_id)
                    delivery = Delivery(RETRY, via=channel, error=f"{type(e).__name__}: {e}"[:500])
            elapsed = int((time.monotonic() - started) * 1000)
            await asyncio.to_thread(self._record, row_id, attempts, delivery, elapsed)
        return len(claimed)

    def _record(self, row_id: int, attempts: int, delivery: Delivery, elapsed_ms: int) -> None:
        now = utcnow()
        with self.store.session() as session, session.begin():
            row = session.get(OutboxMessage, row_id)
            if row is None:  # the person deleted their data meanwhile
                return
            outcome = delivery.outcome
            if outcome == RETRY and attempts >= self.max_attempts:
                outcome = "failed"
            session.add(OutboxAttempt(
                outbox_id=row_id, at=now, outcome=outcome, via=delivery.via or None,
                error_code=delivery.error_code or None, error=delivery.error[:1000] or None, duration_ms=elapsed_ms,
            ))
            row.via = delivery.via or row.via
            row.claimed_at = None
            if delivery.error_code or delivery.error:
                row.last_error_code = delivery.error_code or None
                row.last_error = delivery.error[:1000] or None
            if outcome == SENT:
                row.status, row.sent_at = "delivered", now
                row.provider_message_id = delivery.message_id or None
            elif outcome == RETRY:
                wait = max(delivery.retry_after or 0.0, self.backoff(attempts))
                row.status, row.next_attempt_at = "pending", now + timedelta(seconds=wait)
            else:  # held, undeliverable, failed: kept for the person's next visit
                row.status = outcome
        log.info("outbox: message %d -> %s via %s%s (try %d, %d ms)", row_id, outcome, delivery.via or "-",
                 f" error {delivery.error_code}" if delivery.error_code else "", attempts, elapsed_ms)

    async def run(self) -> None:
        """Dispatches until cancelled: at once when woken, else every `interval` seconds."""
        self._wake = wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                while await self.dispatch_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: try again at the next tick
                log.exception("outbox: dispatch failed; trying again in %.0f s", self.interval)
            try:
                await asyncio.wait_for(wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            wake.clear()
