"""How staff messages leave: the outbox dispatcher with a sender per channel, and the web chat's updates.

Telegram and Zalo send through their channel's own client (same rendering, rate limits and
errors as answers); the web chat has no push, so its messages are held and the page collects
them from GET /api/chat/updates.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from aiohttp import web

from bot.outbox import HELD, RETRY, SENT, UNDELIVERABLE, Delivery, Dispatcher, take_for_visit
from bot.storage import Store
from flows.replies import Reply

log = logging.getLogger(__name__)

DISPATCHER = web.AppKey("desk_dispatcher", Dispatcher)


class TelegramSender:
    def __init__(self, channel: Any):
        self.channel = channel

    async def send(self, user_id: str, replies: list[Reply], **_: Any) -> Delivery:
        if await self.channel.send_replies(int(user_id), replies):
            return Delivery(SENT, via="telegram")
        return Delivery(RETRY, via="telegram", error="not sent (see the channel's log)")


class ZaloSender:
    def __init__(self, channel: Any):
        self.channel = channel

    async def send(self, user_id: str, replies: list[Reply], **_: Any) -> Delivery:
        from bot.channels.zalo import UndeliverableError, ZaloError, render

        more = self.channel.assistant.engine.responses.text("zalo_more_choices")
        try:
            await self.channel.api.send_all(user_id, [m for r in replies for m in render(r, more)])
        except UndeliverableError as e:
            return Delivery(UNDELIVERABLE, via="zalo", error_code=str(e.code), error=str(e)[:500])
        except ZaloError as e:
            return Delivery(RETRY, via="zalo", error_code=str(e.code), error=str(e)[:500])
        return Delivery(SENT, via="zalo")


class WebSender:
    """The web page asks for its messages; holding them is how they wait for it."""

    async def send(self, user_id: str, replies: list[Reply], **_: Any) -> Delivery:
        return Delivery(HELD, via="web")


def register_senders(app: web.Application, dispatcher: Dispatcher) -> None:
    """A sender for each channel that is on in this process (channels attach before the app starts)."""
    from bot.channels import telegram, zalo

    dispatcher.register("web", WebSender())
    if telegram.TELEGRAM in app:
        dispatcher.register("telegram", TelegramSender(app[telegram.TELEGRAM]))
    if zalo.ZALO in app:
        dispatcher.register("zalo", ZaloSender(app[zalo.ZALO]))


def outbox_context(dispatcher: Dispatcher):
    async def run(app: web.Application) -> AsyncIterator[None]:
        register_senders(app, dispatcher)
        task = asyncio.create_task(dispatcher.run(), name="desk-outbox")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return run


def take_web_updates(store: Store, user: str) -> list[Reply]:
    """Messages queued for this web visitor (a staff answer), each handed out once."""
    with store.session() as session, session.begin():
        return take_for_visit(session, "web", user)
