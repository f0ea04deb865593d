"""The ticket inbox (new, mine, waiting, closed), one ticket's conversation, and take / answer / close."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.desk_web.keys import handover
from bot.desk_web.render import note, page, redirect
from bot.desk_web.security import allow, me
from bot.handover import VIEWS, HandoverError

routes = web.RouteTableDef()
STAFF = ("staff", "admin")


def _ticket_id(request: web.Request) -> int:
    try:
        return int(request.match_info["ticket"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/inbox")
@allow(*STAFF)
async def inbox(request: web.Request) -> web.Response:
    """The tickets of one view, oldest waiting first, with the count of each view in its tab."""
    view = request.query.get("view", "new")
    view = view if view in VIEWS else "new"
    desk, who = handover(request), me(request)
    rows, counts = await asyncio.to_thread(lambda: (desk.inbox(view, who), desk.counts(who)))
    return await page(request, "inbox.html", view=view, views=VIEWS, rows=rows, counts=counts)


@routes.get("/tickets/{ticket}")
@allow(*STAFF)
async def ticket(request: web.Request) -> web.Response:
    detail = await asyncio.to_thread(handover(request).ticket, _ticket_id(request))
    if detail is None:
        raise web.HTTPNotFound()
    return await page(request, "ticket.html", t=detail, mine=detail.assignee_id == me(request).id)


async def _act(request: web.Request, action: str) -> web.Response:
    ticket_id = _ticket_id(request)
    desk, who = handover(request), me(request)
    try:
        # The desk's writes run in a thread, as a chat turn's do: the event loop keeps serving everyone.
        if action == "take":
            await asyncio.to_thread(desk.take, ticket_id, who)
        elif action == "answer":
            text = str((await request.post()).get("text", ""))
            await asyncio.to_thread(desk.answer, ticket_id, who, text)
        else:
            await asyncio.to_thread(desk.close, ticket_id, who)
    except HandoverError as e:
        if e.code == "missing":
            raise web.HTTPNotFound() from None
        await note(request, f"error_{e.code}")
    else:
        await note(request, f"done_{action}")
    # No #fragment: Chromium skips autofocus on a page opened at one, and the answer box should have it.
    raise redirect(f"/desk/tickets/{ticket_id}" if action != "close" else "/desk/inbox?view=closed")


@routes.post("/tickets/{ticket}/take")
@allow(*STAFF)
async def take(request: web.Request) -> web.Response:
    """The conversation becomes mine; the assistant goes quiet and the person is told."""
    return await _act(request, "take")


@routes.post("/tickets/{ticket}/answer")
@allow(*STAFF)
async def answer(request: web.Request) -> web.Response:
    """Sends my message to the person on their own channel (through the outbox)."""
    return await _act(request, "answer")


@routes.post("/tickets/{ticket}/close")
@allow(*STAFF)
async def close(request: web.Request) -> web.Response:
    """Hands the conversation back to the assistant, which asks for a rating."""
    return await _act(request, "close")
