"""A person at the desk takes over a conversation (Chatwoot's shape), answers on the person's own
channel through the outbox, and hands it back to the assistant.

Ticket status: open (waiting; the assistant still talks) -> taken (a person's; the assistant is
quiet and only stores what the person writes) -> closed (back to the assistant, which asks for
a rating). Only "/huy" or "gặp trợ lý" from the person ends a taken conversation early.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.assistant import OFFERED
from bot.desk import TICKET_PREFIX, parse_reference, reference
from bot.outbox import enqueue
from bot.privacy import mask
from bot.storage import Store
from bot.storage.models import Conversation, DeskAccount, Message, Ticket, User, utcnow
from bot.storage.turn_lock import TICKET_TAKEN
from bot.users import DeskUser, audit
from flows.replies import Reply
from flows.responses import ResponseBook
from knowledge import fold_words

log = logging.getLogger(__name__)

OPEN, TAKEN, CLOSED = "open", TICKET_TAKEN, "closed"  # a turn's read looks for TAKEN
VIEWS = ("new", "mine", "waiting", "closed")
STAFF_REPLY = "desk_reply"  # Message.intent of what staff wrote (direction "out")
HELD = "desk_held"  # Message.intent of what the person wrote while a person had the conversation
MAX_ANSWER = 2000
CONVERSATION_SHOWN = 60


class HandoverError(ValueError):
    """A desk action that does not fit the ticket's state; `code` names it for the page."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class InboxRow:
    id: int
    reference: str
    channel: str
    reason: str
    status: str
    created_at: datetime
    assignee: str
    person_waiting: bool
    preview: str


@dataclass(frozen=True)
class ChatLine:
    who: str  # person, assistant, staff
    text: str
    at: datetime


@dataclass(frozen=True)
class TicketDetail:
    id: int
    reference: str
    channel: str
    reason: str
    summary: str
    status: str
    created_at: datetime
    assignee_id: int | None
    assignee: str
    first_answer_at: datetime | None
    callback_phone: str
    lines: tuple[ChatLine, ...]


class Handover:
    """Tickets as the desk's inbox: take, answer, close; and the quiet rule the Assistant asks about."""

    def __init__(self, store: Store, responses: ResponseBook, clock: Callable[[], datetime] = utcnow,
                 on_enqueue: Callable[[], None] | None = None):
        self.store = store
        self.responses = responses
        self.clock = clock
        self.on_enqueue = on_enqueue  # wakes the outbox dispatcher
        self._release = {fold_words(w) for w in responses.text("desk_release_words").split("|")}

    # -- the Assistant's side ----------------------------------------------------------

    def hold(self, channel: str, external_id: str, text: str, now: datetime) -> str | None:
        """None: the assistant answers. "": a person has the conversation; the message is stored for them.
        A response key: the person asked for the assistant back (the ticket is closed by them)."""
        with self.store.session() as session, session.begin():
            row = session.execute(
                select(Ticket, User).join(User, Ticket.user_id == User.id)
                .where(User.channel == channel, User.external_id == external_id, Ticket.status == TAKEN)
                .limit(1)
            ).first()
            if row is None:
                return None
            ticket, user = row
            conversation = self.store.conversation_for(session, channel, external_id, now)
            if text.strip().lower() == "/huy" or fold_words(text) in self._release:
                ticket.status, ticket.closed_at = CLOSED, now
                self.store.add_message(session, conversation, "in", text, "desk_release", 1.0, now)
                audit(session, None, "released_by_person", reference(TICKET_PREFIX, ticket.id), username="citizen")
                return "desk_released"
            self.store.add_message(session, conversation, "in", text, HELD, None, now)
            ticket.updated_at = now
            return ""

    # -- the desk's side ---------------------------------------------------------------

    def inbox(self, view: str, me: DeskUser, limit: int = 100) -> list[InboxRow]:
        """Tickets in one view: new (waiting for someone), mine, waiting (the person wrote last), closed."""
        query = (
            select(Ticket, User.channel, DeskAccount.name, DeskAccount.username)
            .join(User, Ticket.user_id == User.id)
            .outerjoin(DeskAccount, Ticket.assignee_id == DeskAccount.id)
        )
        if view == "new":
            query = query.where(Ticket.status == OPEN).order_by(Ticket.created_at, Ticket.id)
        elif view == "mine":
            query = query.where(Ticket.status == TAKEN, Ticket.assignee_id == me.id).order_by(Ticket.taken_at)
        elif view == "waiting":
            query = query.where(Ticket.status == TAKEN, Ticket.updated_at.is_not(None), or_(
                Ticket.last_answer_at.is_(None), Ticket.updated_at > Ticket.last_answer_at,
            )).order_by(Ticket.updated_at)
        else:
            query = query.where(Ticket.status == CLOSED).order_by(Ticket.closed_at.desc(), Ticket.id.desc())
        with self.store.session() as session:
            rows = session.execute(query.limit(limit)).all()
            return [
                InboxRow(
                    id=t.id, reference=reference(TICKET_PREFIX, t.id), channel=channel, reason=t.reason,
                    status=t.status, created_at=t.created_at, assignee=name or username or "",
                    person_waiting=t.status == TAKEN and t.updated_at is not None
                    and (t.last_answer_at is None or t.updated_at > t.last_answer_at),
                    preview=mask(t.summary.splitlines()[-1] if t.summary else "")[:140],
                )
                for t, channel, name, username in rows
            ]

    def counts(self, me: DeskUser) -> dict[str, int]:
        with self.store.session() as session:
            by_status = dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
            mine = session.execute(select(func.count()).where(Ticket.status == TAKEN, Ticket.assignee_id == me.id)).scalar()
            waiting = session.execute(select(func.count()).where(
                Ticket.status == TAKEN, Ticket.updated_at.is_not(None),
                or_(Ticket.last_answer_at.is_(None), Ticket.updated_at > Ticket.last_answer_at))).scalar()
        return {"new": by_status.get(OPEN, 0), "mine": int(mine or 0), "waiting": int(waiting or 0),
                "closed": by_status.get(CLOSED, 0)}

    def ticket(self, ticket_id: int) -> TicketDetail | None:
        with self.store.session() as session:
            row = session.execute(
                select(Ticket, User, DeskAccount).join(User, Ticket.user_id == User.id)
                .outerjoin(DeskAccount, Ticket.assignee_id == DeskAccount.id).where(Ticket.id == ticket_id)
            ).first()
            if row is None:
                return None
            ticket, user, assignee = row
            messages = session.execute(
                select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.user_id == user.id)
                .order_by(Message.created_at.desc(), Message.id.desc()).limit(CONVERSATION_SHOWN)
            ).scalars().all()
            lines = tuple(
                ChatLine(who="person" if m.direction == "in" else "staff" if m.intent == STAFF_REPLY else "assistant",
                         text=mask(m.text), at=m.created_at)
                for m in reversed(messages)
            )
            return TicketDetail(
                id=ticket.id, reference=reference(TICKET_PREFIX, ticket.id), channel=user.channel,
                reason=ticket.reason, summary=mask(ticket.summary), status=ticket.status,
                created_at=ticket.created_at, assignee_id=ticket.assignee_id,
                assignee=(assignee.name or assignee.username) if assignee else "",
                first_answer_at=ticket.first_answer_at, callback_phone=ticket.callback_phone or "", lines=lines,
            )

    def take(self, ticket_id: int, me: DeskUser) -> None:
        """The conversation becomes this person's; the citizen is told a person is here."""
        now = self.clock()
        with self.store.session() as session, session.begin():
            ticket, user = self._ticket(session, ticket_id)
            if ticket.status == CLOSED:
                raise HandoverError("closed")
            if _held_by_other(ticket, me):
                raise HandoverError("taken_by_other")
            ticket.status, ticket.assignee_id, ticket.taken_at = TAKEN, me.id, ticket.taken_at or now
            self._send(session, user, ticket, self.responses.render("desk_taken", name=me.name), f"taken:{now.isoformat()}")
            audit(session, me, "take_ticket", reference(TICKET_PREFIX, ticket.id), now=now)
        self._wake()

    def answer(self, ticket_id: int, me: DeskUser, text: str) -> None:
        """Staff's message to the citizen, on their channel; the first one sets the wait time."""
        text = (text or "").strip()
        if not text:
            raise HandoverError("empty")
        if len(text) > MAX_ANSWER:
            raise HandoverError("too_long")
        now = self.clock()
        with self.store.session() as session, session.begin():
            ticket, user = self._ticket(session, ticket_id)
            if ticket.status != TAKEN or _held_by_other(ticket, me):
                raise HandoverError("not_yours")
            conversation = self.store.conversation_for(session, user.channel, user.external_id, now)
            message = self.store.add_message(session, conversation, "out", text, STAFF_REPLY, None, now)
            session.flush()  # the message's id makes the outbox's key: each answer is sent once
            self._send(session, user, ticket, [Reply(text=text)], f"answer:{conversation.id}:{message.id}")
            ticket.first_answer_at = ticket.first_answer_at or now
            ticket.last_answer_at = now
            audit(session, me, "answer", f"{reference(TICKET_PREFIX, ticket.id)} ({len(text)} chars)", now=now)
        self._wake()

    def close(self, ticket_id: int, me: DeskUser) -> None:
        """Back to the assistant, which asks the citizen for a rating (the feedback flow's own question)."""
        now = self.clock()
        with self.store.session() as session, session.begin():
            ticket, user = self._ticket(session, ticket_id)
            if ticket.status == CLOSED:
                raise HandoverError("closed")
            if _held_by_other(ticket, me):
                raise HandoverError("not_yours")
            was_taken = ticket.status == TAKEN
            ticket.status, ticket.closed_at = CLOSED, now
            if was_taken:
                replies = [*self.responses.render("desk_closed"), *self.responses.render("rating_ask")]
                conversation = self.store.conversation_for(session, user.channel, user.external_id, now)
                # Typing a rating button's title (as Zalo sends it) presses it, as with any offered button.
                offered = {fold_words(b.title): b.payload for r in replies for b in r.buttons}
                conversation.flow_state = {**(conversation.flow_state or {}), OFFERED: offered}
                for reply in replies:
                    self.store.add_message(session, conversation, "out", reply.text, None, None, now)
                self._send(session, user, ticket, replies, "closed")
            audit(session, me, "close_ticket", reference(TICKET_PREFIX, ticket.id), now=now)
        self._wake()

    def send_to_ticket(self, ticket_reference: str, me: DeskUser, replies: list[Reply], what: str) -> None:
        """Sends a message (a procedure's checklist) to the person who holds this ticket, on their channel."""
        parsed = parse_reference(ticket_reference)
        if parsed is None or parsed[0] != TICKET_PREFIX:
            raise HandoverError("missing")
        now = self.clock()
        with self.store.session() as session, session.begin():
            ticket, user = self._ticket(session, parsed[1])
            self._send(session, user, ticket, replies, f"{what}:{now.isoformat()}")
            audit(session, me, "send_checklist", f"{what} -> {reference(TICKET_PREFIX, ticket.id)}", now=now)
        self._wake()

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _ticket(session: Session, ticket_id: int) -> tuple[Ticket, User]:
        row = session.execute(
            select(Ticket, User).join(User, Ticket.user_id == User.id).where(Ticket.id == ticket_id)
            .with_for_update()
        ).first()
        if row is None:
            raise HandoverError("missing")
        return row[0], row[1]

    @staticmethod
    def _send(session: Session, user: User, ticket: Ticket, replies: list[Reply], key: str) -> None:
        enqueue(session, user.channel, user.external_id, replies, "staff_reply", f"desk:{ticket.id}:{key}")

    def _wake(self) -> None:
        if self.on_enqueue is not None:
            self.on_enqueue()


def _held_by_other(ticket: Ticket, me: DeskUser) -> bool:
    """A colleague has taken this ticket (an admin may act on any)."""
    return ticket.status == TAKEN and ticket.assignee_id != me.id and me.role != "admin"
