"""The one-stop desk over the database: tickets (a person was asked for), ratings and complaints.

`StoredDesk` is what flows see as `flows.services.Desk`; its read side (`open_tickets`,
`recent_feedback`, `close_ticket`) is what staff use through `python -m bot desk`, with
ID numbers, phone numbers and dossier codes masked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.desk_hours import Schedule
from bot.privacy import mask
from bot.storage import Conversation, Feedback, Message, Store, Ticket, User
from bot.storage.models import utcnow
from bot.storage.retention import retained_counts
from knowledge import in_vietnam

log = logging.getLogger(__name__)

# References people read out on the phone: YC-00012 (yêu cầu gặp cán bộ), PA-00034 (phản ánh, đánh giá).
TICKET_PREFIX = "YC"
FEEDBACK_PREFIX = "PA"
_REFERENCE = re.compile(r"^\s*(?P<prefix>[A-Za-z]{2})\s*-?\s*(?P<number>\d{1,9})\s*$")
FEEDBACK_KINDS = ("rating", "complaint")
RATINGS = ("very_satisfied", "satisfied", "unsatisfied")
# Longer texts are cut (a chat message can be long; the desk reads a summary, not a novel).
MAX_SUMMARY = 4000
MAX_TEXT = 4000
# A comment this soon after a rating (same user, same level) belongs to that rating.
RATING_COMMENT_WINDOW = timedelta(minutes=30)
# How many of the user's own messages the desk sees next to a ticket.
CONTEXT_MESSAGES = 3


def reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:05d}"


def parse_reference(text: str) -> tuple[str, int] | None:
    """("YC", 12) for "YC-00012", "yc12" or "YC 12"; None when it is not a reference."""
    match = _REFERENCE.match(text)
    if not match:
        return None
    return match.group("prefix").upper(), int(match.group("number"))


def split_user_key(user_key: str) -> tuple[str, str]:
    """"telegram:12345" -> ("telegram", "12345"); the external id may itself contain ':'."""
    channel, sep, external_id = user_key.partition(":")
    if not sep or not channel or not external_id:
        raise ValueError(f"user key must be 'channel:external_id', got {user_key!r}")
    return channel, external_id


@dataclass(frozen=True)
class TicketView:
    """An open ticket as staff see it (personal data masked)."""

    reference: str
    user: str
    reason: str
    summary: str
    status: str
    created_at: datetime
    recent_messages: tuple[str, ...]


@dataclass(frozen=True)
class FeedbackView:
    """A rating or complaint as staff see it (personal data masked)."""

    reference: str
    user: str
    kind: str
    rating: str | None
    text: str
    created_at: datetime


class StoredDesk:
    """Tickets and feedback in the database, one open ticket per user at a time."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow, schedule: Schedule | None = None):
        self.store = store
        self.clock = clock
        self.schedule = schedule or Schedule(((),) * 7)

    def next_answer_at(self) -> datetime | None:
        """When someone at the desk next answers (Vietnam time); None when someone is answering now."""
        return self.schedule.next_opening(self.clock())

    def local_now(self) -> datetime:
        """Now, in Vietnam time (what people at the desk and citizens read)."""
        return in_vietnam(self.clock())

    def set_callback(self, user_key: str, ticket_reference: str, phone: str) -> bool:
        """Keeps the number a person gave (with consent) to be called back on their open ticket."""
        parsed = parse_reference(ticket_reference)
        if parsed is None:
            return False
        channel, external_id = split_user_key(user_key)
        with self.store.session() as session, session.begin():
            ticket = session.get(Ticket, parsed[1])
            if ticket is None or ticket.status == "closed":
                return False
            user = session.get(User, ticket.user_id)
            if user is None or (user.channel, user.external_id) != (channel, external_id):
                return False  # one person never touches another's ticket
            ticket.callback_phone = phone[:200]
            log.info("ticket %s: call back number kept for %s", ticket_reference, user_key)
            return True

    # -- what flows call (flows.services.Desk) -----------------------------------

    def open_ticket(self, user_key: str, reason: str, summary: str) -> str:
        """A ticket for the desk; asking again while one is open adds to it and answers the same reference."""
        with self.store.session() as session, session.begin():
            user = self._user(session, user_key)
            ticket = session.execute(
                select(Ticket).where(Ticket.user_id == user.id, Ticket.status == "open").order_by(Ticket.id).limit(1)
            ).scalar_one_or_none()
            if ticket is None:
                ticket = Ticket(user_id=user.id, reason=reason[:40], summary=summary[:MAX_SUMMARY], status="open",
                                created_at=self.clock())
                session.add(ticket)
                session.flush()
                log.info("ticket %s opened for %s (%s)", reference(TICKET_PREFIX, ticket.id), user_key, reason)
            elif summary and summary not in ticket.summary:
                # The latest context matters most to the person who picks the ticket up: keep it, cut the oldest.
                ticket.summary = f"{ticket.summary}\n---\n{summary}"[-MAX_SUMMARY:]
            return reference(TICKET_PREFIX, ticket.id)

    def save_feedback(self, user_key: str, kind: str, text: str, rating: str | None = None) -> str:
        """Stores a rating or a complaint; answers its reference.

        A rating is stored the moment it is given (so a later "thôi" does not lose it); the comment that
        follows comes as the same rating with a text and completes that row instead of counting twice.
        """
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {FEEDBACK_KINDS}, got {kind!r}")
        if rating is not None and rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
        text = (text or "")[:MAX_TEXT]
        now = self.clock()
        with self.store.session() as session, session.begin():
            user = self._user(session, user_key)
            feedback = None
            if kind == "rating" and rating is not None and text:
                latest = session.execute(
                    select(Feedback).where(Feedback.user_id == user.id).order_by(Feedback.id.desc()).limit(1)
                ).scalar_one_or_none()
                if (latest is not None and latest.kind == "rating" and latest.rating == rating and not latest.text
                        and now - latest.created_at <= RATING_COMMENT_WINDOW):
                    feedback = latest
                    feedback.text = text
            if feedback is None:
                feedback = Feedback(user_id=user.id, kind=kind, rating=rating, text=text, created_at=now)
                session.add(feedback)
                session.flush()
            log.info("%s %s saved for %s", kind, reference(FEEDBACK_PREFIX, feedback.id), user_key)
            return reference(FEEDBACK_PREFIX, feedback.id)

    def forget_user(self, user_key: str) -> int:
        """Deletes everything stored about the user; answers how many rows went."""
        removed = self.store.forget(*split_user_key(user_key))
        log.info("forgot %s: %d rows removed", user_key, removed)
        return removed

    # -- what staff read ------------------------------------------------------------

    def open_tickets(self, limit: int = 50) -> list[TicketView]:
        """Open tickets, oldest first (first come, first served)."""
        with self.store.session() as session:
            rows = session.execute(
                select(Ticket, User).join(User, Ticket.user_id == User.id)
                .where(Ticket.status == "open").order_by(Ticket.created_at, Ticket.id).limit(limit)
            ).all()
            return [
                TicketView(
                    reference=reference(TICKET_PREFIX, ticket.id),
                    user=f"{user.channel}:{user.external_id}",
                    reason=ticket.reason,
                    summary=mask(ticket.summary),
                    status=ticket.status,
                    created_at=ticket.created_at,
                    recent_messages=self._recent_messages(session, user.id),
                )
                for ticket, user in rows
            ]

    def recent_feedback(self, limit: int = 50) -> list[FeedbackView]:
        """Ratings and complaints, newest first."""
        with self.store.session() as session:
            rows = session.execute(
                select(Feedback, User).join(User, Feedback.user_id == User.id)
                .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit)
            ).all()
            return [
                FeedbackView(
                    reference=reference(FEEDBACK_PREFIX, feedback.id),
                    user=f"{user.channel}:{user.external_id}",
                    kind=feedback.kind,
                    rating=feedback.rating,
                    text=mask(feedback.text),
                    created_at=feedback.created_at,
                )
                for feedback, user in rows
            ]

    def rating_counts(self) -> dict[str, int]:
        """How many ratings of each level have been given (with those whose rows retention deleted)."""
        with self.store.session() as session:
            rows = session.execute(
                select(Feedback.rating, func.count()).where(Feedback.kind == "rating").group_by(Feedback.rating)
            ).all()
        counts = retained_counts(self.store, "ratings")
        for rating, count in rows:
            counts[str(rating)] = counts.get(str(rating), 0) + int(count)
        return counts

    def close_ticket(self, ticket_reference: str) -> bool:
        """Closes an open ticket (staff dealt with it); False when there is no such open ticket."""
        parsed = parse_reference(ticket_reference)
        if parsed is None or parsed[0] != TICKET_PREFIX:
            return False
        with self.store.session() as session, session.begin():
            ticket = session.get(Ticket, parsed[1])
            if ticket is None or ticket.status != "open":
                return False
            ticket.status = "closed"
            ticket.closed_at = self.clock()
            return True

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    def _user(session: Session, user_key: str) -> User:
        channel, external_id = split_user_key(user_key)
        user = session.execute(
            select(User).where(User.channel == channel, User.external_id == external_id)
        ).scalar_one_or_none()
        if user is None:  # the Assistant creates users; a desk used on its own still works
            user = User(channel=channel, external_id=external_id)
            session.add(user)
            session.flush()
        return user

    @staticmethod
    def _recent_messages(session: Session, user_id: int) -> tuple[str, ...]:
        """The user's latest typed messages (button presses say nothing the summary does not)."""
        texts = session.execute(
            select(Message.text).join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.user_id == user_id, Message.direction == "in", ~Message.text.startswith("/"))
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(CONTEXT_MESSAGES)
        ).scalars()
        return tuple(mask(t) for t in reversed(list(texts)))


def render_desk(desk: StoredDesk, limit: int = 20) -> str:
    """The desk's view in plain text for the terminal: open tickets, then recent feedback."""
    lines: list[str] = []
    tickets = desk.open_tickets(limit)
    lines.append(f"Yêu cầu gặp cán bộ đang mở: {len(tickets)}")
    for t in tickets:
        lines.append(f"  {t.reference}  {t.created_at:%Y-%m-%d %H:%M}  {t.user}  ({t.reason})")
        lines.extend(f"      {line}" for line in t.summary.splitlines() if line.strip())
        lines.extend(f"      » {text[:200]}" for text in t.recent_messages)
    feedback = desk.recent_feedback(limit)
    counts = desk.rating_counts()
    tally = ", ".join(f"{r}: {counts.get(r, 0)}" for r in RATINGS)
    lines.append("")
    lines.append(f"Đánh giá và phản ánh gần đây: {len(feedback)}  (đánh giá: {tally})")
    for f in feedback:
        what = f"{f.kind} {f.rating}" if f.rating else f.kind
        lines.append(f"  {f.reference}  {f.created_at:%Y-%m-%d %H:%M}  {f.user}  {what}")
        if f.text:
            lines.extend(f"      {line}" for line in f.text.splitlines() if line.strip())
    return "\n".join(lines)
