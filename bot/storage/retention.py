"""Retention: conversations and what hangs on them are deleted after RETENTION_DAYS, keeping
anonymous monthly counts (retained_counts) so figures over time survive the rows.

What goes, when it is older than the cutoff:
- conversations (last active before it), with their messages and flow state;
- feedback (ratings, complaints) given before it;
- tickets closed before it (an open ticket stays until staff close it);
- users last seen before it with nothing left (no conversation, feedback or ticket);
- channel events received before it (the inbox of Zalo webhooks).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import delete, exists, extract, func, select, true
from sqlalchemy.orm import Session

from bot.storage.db import Store
from bot.storage.models import ChannelEvent, Conversation, Feedback, Message, RetainedCount, Ticket, User

log = logging.getLogger(__name__)
# Conversations deleted per transaction.
BATCH = 500


@dataclass
class PurgeReport:
    """How many rows of each table were deleted, and the counts kept for them."""

    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    counted: int = 0

    def __str__(self) -> str:
        rows = ", ".join(f"{table} {n}" for table, n in self.deleted.items())
        return f"older than {self.cutoff:%Y-%m-%d %H:%M}: {rows or 'nothing'}"


def _month_rows(session: Session, date_column: Any, key_column: Any, where: Any) -> Iterable[tuple[str, str, int]]:
    """(month "YYYY-MM", key, count) of the rows about to go, grouped in SQL (both SQLite and PostgreSQL)."""
    year, month = extract("year", date_column), extract("month", date_column)
    query = select(year, month, key_column, func.count()).where(where).group_by(year, month, key_column)
    for y, m, key, count in session.execute(query):
        yield f"{int(y):04d}-{int(m):02d}", str(key or ""), int(count)


def _keep_counts(session: Session, metric: str, rows: Iterable[tuple[str, str, int]]) -> int:
    totals: Counter[tuple[str, str]] = Counter()
    for month, key, count in rows:
        totals[(month, key[:64])] += count
    for (month, key), count in totals.items():
        row = session.execute(select(RetainedCount).where(
            RetainedCount.month == month, RetainedCount.metric == metric, RetainedCount.key == key
        )).scalar_one_or_none()
        if row is None:
            session.add(RetainedCount(month=month, metric=metric, key=key, count=count))
        else:
            row.count += count
    return len(totals)


def purge(store: Store, retention_days: int, now: datetime, batch: int = BATCH) -> PurgeReport:
    """Deletes what is older than `retention_days`, counts kept first, in short transactions of
    `batch` conversations (a first run on a year of data must not hold the database for long)."""
    report = PurgeReport(cutoff=now - timedelta(days=retention_days))
    cutoff = report.cutoff
    report.deleted = dict.fromkeys(("messages", "conversations", "feedback", "tickets", "users", "channel_events"), 0)
    while True:
        with store.session() as session, session.begin():
            ids = session.execute(
                select(Conversation.id).where(Conversation.updated_at < cutoff).order_by(Conversation.id).limit(batch)
            ).scalars().all()
            if not ids:
                break
            _purge_conversations(session, ids, report)
    old_feedback = Feedback.created_at < cutoff
    old_ticket = (Ticket.status == "closed") & (Ticket.closed_at < cutoff)
    with store.session() as session, session.begin():
        report.counted += _keep_counts(session, "ratings", _month_rows(
            session, Feedback.created_at, Feedback.rating, old_feedback & (Feedback.kind == "rating")
        ))
        report.counted += _keep_counts(session, "complaints", _month_rows(
            session, Feedback.created_at, Feedback.kind, old_feedback & (Feedback.kind == "complaint")
        ))
        report.counted += _keep_counts(session, "tickets", _month_rows(
            session, Ticket.created_at, Ticket.reason, old_ticket
        ))
        report.deleted["feedback"] += _delete(session, delete(Feedback).where(old_feedback))
        report.deleted["tickets"] += _delete(session, delete(Ticket).where(old_ticket))
        report.deleted["users"] += _delete(session, delete(User).where(
            User.last_seen_at < cutoff,
            ~exists().where(Conversation.user_id == User.id),
            ~exists().where(Feedback.user_id == User.id),
            ~exists().where(Ticket.user_id == User.id),
        ))
        report.deleted["channel_events"] += _delete(session, delete(ChannelEvent).where(
            ChannelEvent.received_at < cutoff, ChannelEvent.status != "pending"
        ))
    log.info("retention (%d days): deleted %s", retention_days, report)
    return report


def _purge_conversations(session: Session, ids: list[int], report: PurgeReport) -> None:
    """Counts, then deletes, these conversations and their messages."""
    chosen = Conversation.id.in_(ids)
    channels = (
        select(Conversation.started_at, User.channel).join(User, Conversation.user_id == User.id).where(chosen)
    ).subquery()
    report.counted += _keep_counts(session, "conversations", _month_rows(
        session, channels.c.started_at, channels.c.channel, true()
    ))
    in_chosen = Message.conversation_id.in_(ids)
    report.counted += _keep_counts(session, "messages_in", _month_rows(
        session, Message.created_at, Message.intent, in_chosen & (Message.direction == "in")
    ))
    # Messages explicitly (not only by ON DELETE CASCADE), so a database without foreign keys is purged too.
    report.deleted["messages"] += _delete(session, delete(Message).where(in_chosen))
    report.deleted["conversations"] += _delete(session, delete(Conversation).where(chosen))


def _delete(session: Session, statement: Any) -> int:
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0)


def retained_counts(store: Store, metric: str) -> dict[str, int]:
    """The anonymous counts of `metric` kept by earlier purges, by key, over all months."""
    with store.session() as session:
        rows = session.execute(
            select(RetainedCount.key, func.sum(RetainedCount.count)).where(RetainedCount.metric == metric)
            .group_by(RetainedCount.key)
        ).all()
    return {str(key): int(total) for key, total in rows}


async def purge_daily(store: Store, retention_days: int, clock: Callable[[], datetime],
                      interval: timedelta = timedelta(days=1)) -> None:
    """Purges at once, then every `interval`, off the event loop; a failed run is logged and retried.

    With several workers one purge a day is enough: the worker that takes the "retention" lease for
    most of the interval purges, the others find it held and wait for their next turn.
    """
    owner = f"purge-{os.getpid()}-{secrets.token_hex(4)}"
    while True:
        try:
            if await asyncio.to_thread(store.claim_lease, "retention", owner, interval * 0.9, clock()):
                await asyncio.to_thread(purge, store, retention_days, clock())
        except Exception:  # a bad run must not end the job: the next one may succeed (database back)
            log.exception("retention: purge failed; trying again in %s", interval)
        await asyncio.sleep(interval.total_seconds())
