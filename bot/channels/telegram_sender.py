"""Sends outbox messages (dossier notices, staff replies) to a Telegram chat: bot/outbox.py's Sender.

The replies are rendered as the channel renders a turn (inline keyboard, parts under 4,096
units). Telegram's answer decides the outcome: a blocked bot or a chat that is gone is
undeliverable (recorded on the user row, never retried); flood control and network errors are
tried again later by the outbox, after Telegram's retry_after when it gives one.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram import CHANNEL, NO_PREVIEW, TelegramChannel, render_reply
from bot.outbox import HELD, RETRY, SENT, UNDELIVERABLE, Delivery
from flows.replies import Reply

log = logging.getLogger(__name__)


class TelegramSender:
    """Outbox sender over the Telegram channel's bot (its rate limiter and button payload store)."""

    def __init__(self, channel: TelegramChannel):
        self.channel = channel

    async def send(self, user_id: str, replies: list[Reply], **_: Any) -> Delivery:
        if not self.channel.started.is_set():
            return Delivery(RETRY, via=CHANNEL, error="the Telegram channel is not started yet")
        try:
            chat_id = int(user_id)
        except ValueError:
            return Delivery(UNDELIVERABLE, via=CHANNEL, error_code="bad_chat_id", error="not a Telegram chat id")
        message_id = ""
        for reply in replies:
            for message in render_reply(reply, self.channel.payloads, self.channel.responses):
                try:
                    sent = await self.channel.application.bot.send_message(
                        chat_id, message.text, reply_markup=message.keyboard, link_preview_options=NO_PREVIEW)
                except Forbidden as e:
                    self.channel.mark_unreachable(chat_id, e.message)
                    return Delivery(UNDELIVERABLE, via=CHANNEL, error_code="403", error=e.message)
                except RetryAfter as e:
                    wait = e.retry_after.total_seconds() if hasattr(e.retry_after, "total_seconds") else float(e.retry_after)
                    return Delivery(RETRY, via=CHANNEL, error_code="429", error=str(e), retry_after=wait)
                except BadRequest as e:
                    gone = "chat not found" in e.message.lower() or "user is deactivated" in e.message.lower()
                    return Delivery(UNDELIVERABLE if gone else HELD, via=CHANNEL, error_code="400", error=e.message)
                except NetworkError as e:  # TimedOut included: it may have arrived; the outbox tries again
                    return Delivery(RETRY, via=CHANNEL, error_code="network", error=str(e))
                except TelegramError as e:
                    return Delivery(RETRY, via=CHANNEL, error_code="telegram", error=str(e))
                message_id = str(sent.message_id)
        return Delivery(SENT, via=CHANNEL, message_id=message_id)
