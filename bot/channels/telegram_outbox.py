"""Telegram updates and reply messages kept in the database (bot/channels/durable.py), so kill -9 loses none.

An update is stored before it is queued: long polling confirms it to Telegram (the next
getUpdates offset) only after that, and the webhook answers 200 only after that. At the
next start, stored updates not yet handled are queued again and unsent reply messages
sent. Telegram has no way to ask whether a message in flight at a crash arrived, so such
a message is sent again (it may show twice; it is never lost).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Update

from bot.channels.durable import EventInbox
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

CHANNEL = "telegram"


def sender_of(update: Update) -> str:
    chat = update.effective_chat or update.effective_user
    return str(chat.id) if chat is not None else ""


class DurableUpdateQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The Application's update queue: each update is stored (once per update_id) before it is queued."""

    def __init__(self, inbox: EventInbox):
        super().__init__()
        self.inbox = inbox
        self.rows: dict[int, int] = {}  # update_id -> channel_events row of updates not yet handled

    async def put(self, item: Any) -> None:
        if isinstance(item, Update):
            row = await asyncio.to_thread(self.inbox.record, sender_of(item), str(item.update_id), item.to_dict(), utcnow())
            if row is None:
                log.info("telegram update %s was stored before (Telegram sent it again); handled once",
                         item.update_id)
                return
            self.rows[item.update_id] = row
        await super().put(item)

    def requeue(self, bot: Bot, row_id: int, payload: dict[str, Any]) -> None:
        """Queues a stored update again (a restart), without storing it a second time."""
        update = Update.de_json(payload, bot)
        if update is not None:
            self.rows[update.update_id] = row_id
            self.put_nowait(update)


def part_of(text: str, keyboard: InlineKeyboardMarkup | None) -> dict[str, Any]:
    """One reply message as stored in the outbox."""
    return {"text": text, **({"keyboard": keyboard.to_dict()} if keyboard is not None else {})}


def keyboard_of(part: dict[str, Any], bot: Bot) -> InlineKeyboardMarkup | None:
    raw = part.get("keyboard")
    return InlineKeyboardMarkup.de_json(raw, bot) if isinstance(raw, dict) else None
