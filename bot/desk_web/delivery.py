"""How staff messages leave: the outbox dispatcher's web sender, and the web chat's updates.

Telegram and Zalo send through the senders the dossier notices use (bot/channels/*_sender.py,
registered by bot/web/dossier_events.py); the web chat has no push, so its messages are held and
the page collects them from GET /api/chat/updates.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from aiohttp import web

from bot.outbox import HELD, Delivery, Dispatcher, take_for_visit
from bot.storage import Store
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


def take_web_updates(store: Store, user: str) -> list[Reply]:
    """Messages queued for this web visitor (a staff answer, a notice), each handed out once."""
    with store.session() as session, session.begin():
        return take_for_visit(session, "web", user)
