"""Tables, as SQLAlchemy models; Alembic migrations under migrations/ create them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.storage.crypto import EncryptedJSON, EncryptedText, MaskedText

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(128), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_seen_at = Column(DateTime, nullable=False, default=utcnow)
    # Set when a channel says we can no longer write to them (Telegram: blocked the bot; Zalo: window closed).
    unreachable_at = Column(DateTime)
    unreachable_reason = Column(String(64))

    conversations = relationship("Conversation", back_populates="user", cascade="all, delete-orphan")
    tickets = relationship("Ticket", back_populates="user", cascade="all, delete-orphan")
    feedback = relationship("Feedback", back_populates="user", cascade="all, delete-orphan")


class Conversation(Base):
    __tablename__ = "conversations"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    # The flow engine's state (stack of flows, slots): a restart resumes from here. Encrypted: slots hold
    # what the user typed (a dossier code, a complaint with a phone number).
    flow_state = Column(EncryptedJSON, nullable=False, default=dict)

    user = relationship("User", back_populates="conversations")
    messages = relationship("Message", back_populates="conversation", cascade="all, delete-orphan")


class Message(Base):
    __tablename__ = "messages"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True)
    direction = Column(String(3), nullable=False)  # "in" from the user, "out" from the assistant
    text = Column(MaskedText, nullable=False)  # ID numbers, phones, dossier codes masked: for statistics only
    intent = Column(String(64))
    confidence = Column(Float)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    procedure_code = Column(String(20))  # the procedure the conversation was about after this message

    conversation = relationship("Conversation", back_populates="messages")


class Ticket(Base):
    """A request for a person, shown to the desk."""

    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    reason = Column(String(40), nullable=False)  # request_human, stuck, not_understood, ...
    summary = Column(EncryptedText, nullable=False, default="")  # staff may need the phone in it
    status = Column(String(20), nullable=False, default="open")  # open, closed
    created_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime)
    # The desk (Chatwoot's shape): status open = waiting, the bot's; taken = a person's; closed = back to the bot.
    assignee_id = Column(Integer, ForeignKey("desk_accounts.id", ondelete="SET NULL"))
    taken_at = Column(DateTime)
    first_answer_at = Column(DateTime)  # wait time = first_answer_at - created_at
    updated_at = Column(DateTime)  # the person's latest message on it
    last_answer_at = Column(DateTime)  # staff's latest answer: the person waits when updated_at is later
    callback_phone = Column(EncryptedText)  # with consent, outside desk hours; masked everywhere but the ticket page

    user = relationship("User", back_populates="tickets")


class Feedback(Base):
    """A satisfaction rating, or a complaint / suggestion (phản ánh, kiến nghị) for the desk."""

    __tablename__ = "feedback"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(20), nullable=False)  # rating, complaint
    rating = Column(String(20))  # very_satisfied, satisfied, unsatisfied
    text = Column(EncryptedText, nullable=False, default="")  # a complaint staff act on
    created_at = Column(DateTime, nullable=False, default=utcnow)

    user = relationship("User", back_populates="feedback")


class Dossier(Base):
    """A dossier as the local status provider knows it (real providers come with the dossier issue)."""

    __tablename__ = "dossiers"

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)  # canonical form, see nlu.dossier_code
    procedure_code = Column(String(20))
    procedure_name = Column(Text, nullable=False, default="")
    status = Column(String(30), nullable=False)  # received, processing, supplement_required, ...
    received_at = Column(DateTime)
    due_at = Column(DateTime)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    note = Column(Text, nullable=False, default="")  # what the office wrote for the citizen
    # Second factor: the last 4 digits of the applicant's ID number and phone, as the office holds them.
    id_last4 = Column(String(4))
    phone_last4 = Column(String(4))
    # When the office set the current status: an older event arriving late does not overwrite it.
    status_at = Column(DateTime)
    agency = Column(String(40))  # the one-door system that reported it (a push source), if any


class ChannelEvent(Base):
    """An inbound channel event (e.g. a Zalo webhook), stored before it is answered, processed once."""

    __tablename__ = "channel_events"
    # Keyed by sender and the channel's id: Zalo's msg_id is unique per sender, not across senders.
    __table_args__ = (UniqueConstraint("channel", "sender", "event_id", name="uq_channel_events_channel_sender_event_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    event_id = Column(String(128), nullable=False)  # the channel's own id (Zalo msg_id), for deduplication
    payload = Column(EncryptedJSON, nullable=False, default=dict)  # holds the message until it is answered
    status = Column(String(20), nullable=False, default="pending", index=True)  # pending, done, failed
    attempts = Column(Integer, nullable=False, default=0)
    error = Column(Text)
    received_at = Column(DateTime, nullable=False, default=utcnow)
    processed_at = Column(DateTime)
    sender = Column(String(64), nullable=False, default="", server_default="")  # the channel's user id


class ChannelState(Base):
    """Durable per-channel values, such as Zalo's rotating refresh token."""

    __tablename__ = "channel_state"

    channel = Column(String(20), primary_key=True)
    key = Column(String(64), primary_key=True)
    value = Column(EncryptedText, nullable=False, default="")  # tokens, stored button payloads
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class RetainedCount(Base):
    """Anonymous monthly counts kept when old conversations are deleted (retention), so figures over
    time (ratings, conversations per channel, tickets per reason) survive the rows they came from."""

    __tablename__ = "retained_counts"
    __table_args__ = (UniqueConstraint("month", "metric", "key", name="uq_retained_counts_month_metric_key"),)

    id = Column(Integer, primary_key=True)
    month = Column(String(7), nullable=False)  # "2025-11"
    metric = Column(String(40), nullable=False)  # conversations, messages_in, ratings, complaints, tickets
    key = Column(String(64), nullable=False, default="")  # channel, intent, rating level, ticket reason
    count = Column(Integer, nullable=False, default=0)


class OutboxPart(Base):
    """One message of a reply to send (a reply may take several), recorded before the first is sent.

    pending -> sending (a worker is posting it) -> sent | failed. A part left `sending` by a
    crash is sent again at the next start; `pending` ones are sent then for the first time.
    """

    __tablename__ = "outbox_parts"
    __table_args__ = (UniqueConstraint("event_row_id", "seq", name="uq_outbox_parts_event_row_id_seq"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    event_row_id = Column(Integer, ForeignKey("channel_events.id", ondelete="CASCADE"), nullable=False, index=True)
    recipient = Column(String(64), nullable=False)
    seq = Column(Integer, nullable=False)
    message = Column(EncryptedJSON, nullable=False)  # a reply may quote what the person typed
    status = Column(String(20), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    error = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)
    provider_message_id = Column(String(64))

class DossierHistory(Base):
    """One change of a dossier's status, with the office's note; (source, event_id) is applied once."""

    __tablename__ = "dossier_history"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_dossier_history_source_event"),)

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, index=True)
    status = Column(String(30), nullable=False)
    occurred_at = Column(DateTime, nullable=False)  # the office's time of the change (UTC)
    note = Column(Text, nullable=False, default="")
    department = Column(Text, nullable=False, default="")
    source = Column(String(40), nullable=False, default="import")  # a push source's name, import, poll
    event_id = Column(String(128))  # the source's own event id; NULL for imports
    recorded_at = Column(DateTime, nullable=False, default=utcnow)


class DossierSubscription(Base):
    """A person who asked to be told when a dossier changes (on the channel they asked from)."""

    __tablename__ = "dossier_subscriptions"
    __table_args__ = (UniqueConstraint("channel", "user_id", "code", name="uq_dossier_subscriptions"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(128), nullable=False)  # the channel's id of the person
    code = Column(String(40), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    cancelled_at = Column(DateTime)
    last_status = Column(String(30))  # what the person was last told (polling compares against it)
    polled_at = Column(DateTime)
    poll_failures = Column(Integer, nullable=False, default=0)


class NoticeContact(Base):
    """A person's consent to template messages (Zalo ZNS) to a phone number, when out of the chat window."""

    __tablename__ = "notice_contacts"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_notice_contacts"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(128), nullable=False)
    phone = Column(EncryptedText, nullable=False)  # 84xxxxxxxxx
    consent_at = Column(DateTime)  # NULL: consent withdrawn
    last_inbound_at = Column(DateTime)  # last message from the person (the chat window opens from it)


class LookupAttempt(Base):
    """One dossier lookup, for rate limits across workers; the code is kept only as a keyed hash."""

    __tablename__ = "dossier_lookups"

    id = Column(Integer, primary_key=True)
    user_key = Column(String(160), nullable=False, index=True)
    code_hash = Column(String(64), nullable=False, index=True)
    outcome = Column(String(20), nullable=False)  # found, not_found, refused, unavailable
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


class OutboxMessage(Base):
    """A message to send to a person later (a dossier notice, a staff reply): written in the same
    transaction as the change that caused it, claimed by one worker, sent once (bot/outbox.py)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_channel_user_id", "channel", "user_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    user_id = Column(String(128), nullable=False)
    kind = Column(String(40), nullable=False)  # dossier_notice, staff_reply, ...
    dedupe_key = Column(String(200), nullable=False, unique=True)
    replies = Column(EncryptedJSON, nullable=False, default=list)  # flows.replies.Reply dicts (dossier codes in them)
    # pending -> sending -> delivered | held (shown on the next visit) | undeliverable | failed
    status = Column(String(20), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    claimed_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)
    via = Column(String(20))  # how it went: telegram, zalo, zns, web
    provider_message_id = Column(String(128), index=True)  # the platform's id (receipts refer to it)
    received_at = Column(DateTime)  # delivery receipt (Zalo user_received_message)
    last_error_code = Column(String(40))  # the platform's raw code (-230, 403, ...)
    last_error = Column(Text)
    shown_at = Column(DateTime)  # held/undeliverable ones shown at the person's next visit
    template = Column(EncryptedJSON)  # the same message as named values, for template channels (Zalo ZNS)


class OutboxAttempt(Base):
    """One try at sending an outbox message, with the platform's raw answer."""

    __tablename__ = "outbox_attempts"

    id = Column(Integer, primary_key=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    outcome = Column(String(20), nullable=False)  # sent, retry, undeliverable, held
    via = Column(String(20))
    error_code = Column(String(40))
    error = Column(Text)
    duration_ms = Column(Integer)


class DeskAccount(Base):
    """A person who signs in to /desk: admin, staff or volunteer (bot/users.py)."""

    __tablename__ = "desk_accounts"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    name = Column(String(120), nullable=False, default="")
    role = Column(String(20), nullable=False)  # admin, staff, volunteer
    password_hash = Column(String(200))  # argon2id; NULL until an invitation is accepted
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)
    invite_hash = Column(String(64))  # sha256 of the one-time invitation token
    invite_expires_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_login_at = Column(DateTime)


class DeskAudit(Base):
    """Every sign-in (and failed one) and every action taken at the desk."""

    __tablename__ = "desk_audit"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("desk_accounts.id", ondelete="SET NULL"), index=True)
    username = Column(String(64), nullable=False, default="")
    action = Column(String(40), nullable=False)  # sign_in, sign_in_failed, locked, take_ticket, reply, ...
    detail = Column(Text, nullable=False, default="")  # masked: never a full ID, phone or dossier code
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


class AssistedSubmission(Base):
    """A submission a volunteer helped with: the procedure, the dossier code and how it went in."""

    __tablename__ = "assisted_submissions"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("desk_accounts.id", ondelete="SET NULL"), index=True)
    procedure_code = Column(String(20), nullable=False)
    dossier_code = Column(String(40), nullable=False, default="")
    method = Column(String(20), nullable=False)  # online, postal, in_person
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)


# The desk's figures are read by date range: these make their GROUP BY queries index scans.
Index("ix_messages_created_at", Message.created_at)
Index("ix_feedback_created_at", Feedback.created_at)
Index("ix_tickets_created_at", Ticket.created_at)
Index("ix_conversations_started_at", Conversation.started_at)
