"""Tables, as SQLAlchemy models; Alembic migrations under migrations/ create them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
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
