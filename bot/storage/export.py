"""Access (Decree 13/2023/NĐ-CP): everything stored about one person, decrypted, as plain data.

Only rows reached from that person's user row are read, so nobody else's data can appear.
Tables added later that refer to users.id or conversations.id are picked up by `_other_tables`
(every column but internal ids), so a new table is exported without touching this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.db import Store
from bot.storage.models import Base, Conversation, Message, User

# Tables this module writes out itself (the others hanging on users.id are found by _other_tables).
_KNOWN = {"users", "conversations", "messages", "tickets", "feedback"}


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def export_person(store: Store, channel: str, external_id: str) -> dict[str, Any] | None:
    """One person's data as JSON-ready dicts; None when nothing is stored about them."""
    with store.session() as session:
        user = session.execute(
            select(User).where(User.channel == channel, User.external_id == external_id)
        ).scalar_one_or_none()
        if user is None:
            return None
        body: dict[str, Any] = {
            "user": {"channel": user.channel, "id": user.external_id, "first_seen": _value(user.created_at),
                     "last_seen": _value(user.last_seen_at), "unreachable_since": _value(user.unreachable_at)},
            "conversations": [_conversation(session, c) for c in sorted(user.conversations, key=lambda c: c.id)],
            "tickets": [
                {"id": t.id, "reason": t.reason, "summary": t.summary, "status": t.status,
                 "created_at": _value(t.created_at), "closed_at": _value(t.closed_at)}
                for t in sorted(user.tickets, key=lambda t: t.id)
            ],
            "feedback": [
                {"id": f.id, "kind": f.kind, "rating": f.rating, "text": f.text, "created_at": _value(f.created_at)}
                for f in sorted(user.feedback, key=lambda f: f.id)
            ],
        }
        body.update(_other_tables(session, user.id))
        return body


def _conversation(session: Session, conversation: Conversation) -> dict[str, Any]:
    messages = session.execute(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.created_at, Message.id)
    ).scalars()
    return {
        "started_at": _value(conversation.started_at),
        "updated_at": _value(conversation.updated_at),
        "flow_state": conversation.flow_state,
        "messages": [
            {"at": _value(m.created_at), "from": "user" if m.direction == "in" else "assistant", "text": m.text,
             "intent": m.intent}
            for m in messages
        ],
    }


def _other_tables(session: Session, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Rows of any other mapped table with a foreign key to this user or to one of their
    conversations (subscriptions, notices, outgoing replies, ...)."""
    conversation_ids = select(Conversation.id).where(Conversation.user_id == user_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in _KNOWN:
            continue
        links = {(fk.column.table.name, fk.column.name): fk.parent for fk in table.foreign_keys}
        if ("users", "id") in links:
            link = links[("users", "id")]
            where = link == user_id
        elif ("conversations", "id") in links:
            link = links[("conversations", "id")]
            where = link.in_(conversation_ids)
        else:
            continue
        rows = session.execute(select(table).where(where)).mappings().all()
        found[table.name] = [{k: _value(v) for k, v in row.items() if k not in ("id", link.name)} for row in rows]
    return found
