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

from bot.outbox import HELD, Delivery, Dispatcher
from flows.replies import Reply

log = logging.getLogger(__name__)

DISPATCHER = web.AppKey("desk_dispatcher", Dispatcher)


class WebSender:
    """The web page asks for its messages; holding them is how they wait for it."""

    async def send(self, user_id: str, replies: list[Reply], **_: Any) -> Delivery:
        return Delivery(HELD, via="web")


def outbox_context(dispatcher: Dispatcher, run: bool):
    """Web visitors' messages wait for their page (the web sender holds them). `run`: this dispatcher is the
    desk's own (no dossier service runs one), so it also gets the channels' senders and a task of its own."""
    async def context(app: web.Application) -> AsyncIterator[None]:
        dispatcher.register("web", WebSender())
        if not run:
            yield
            return
        from bot.web.dossier_events import register_channel_senders

        register_channel_senders(app, dispatcher)
        task = asyncio.create_task(dispatcher.run(), name="desk-outbox")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return context
