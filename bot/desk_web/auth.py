"""Signing in and out of the desk, and setting a password from an invitation."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_session import get_session, new_session

from bot.desk_web.keys import accounts, audit_action
from bot.desk_web.render import note, page, redirect
from bot.desk_web.security import allow, csrf_token, me, public
from bot.users import ROLES, AccountError

routes = web.RouteTableDef()
HOME = {"admin": "/desk/inbox", "staff": "/desk/inbox", "volunteer": "/desk/lookup"}


def _next(raw: str) -> str:
    """Only a desk page may follow the sign-in (no open redirect to another site)."""
    return raw if raw.startswith("/desk/") and not raw.startswith("//") and "\\" not in raw else ""


@routes.get("/")
@allow(*ROLES)
async def home(request: web.Request) -> web.Response:
    """Each role starts on its own page."""
    raise redirect(HOME[me(request).role])


@routes.get("/sign-in")
@public
async def sign_in_form(request: web.Request) -> web.Response:
    return await page(request, "sign_in.html", next=_next(request.query.get("next", "")))


@routes.post("/sign-in")
@public
async def sign_in(request: web.Request) -> web.Response:
    """Checks the password; a new session (new cookie) on success, a lockout after repeated failures."""
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    # argon2 costs tens of milliseconds by design: in a thread, so a burst of sign-ins never holds the chat.
    user, outcome = await asyncio.to_thread(accounts(request).authenticate, username[:64], password[:200])
    if user is None:
        return await page(request, "sign_in.html", status=401 if outcome == "bad" else 429,
                          error=outcome, username=username[:64], next=_next(str(form.get("next", ""))))
    session = await new_session(request)  # a fresh session id: nothing from before signing in carries over
    session["uid"] = user.id
    await csrf_token(request)
    raise redirect(_next(str(form.get("next", ""))) or HOME[user.role])


@routes.post("/sign-out")
@allow(*ROLES)
async def sign_out(request: web.Request) -> web.Response:
    audit_action(request, "sign_out")
    session = await get_session(request)
    session.invalidate()
    raise redirect("/desk/sign-in")


@routes.get("/invite/{token}")
@public
async def invite_form(request: web.Request) -> web.Response:
    return await page(request, "invite.html", token=request.match_info["token"][:100])


@routes.post("/invite/{token}")
@public
async def accept_invite(request: web.Request) -> web.Response:
    form = await request.post()
    password, again = str(form.get("password", "")), str(form.get("again", ""))
    token = request.match_info["token"][:100]
    if password != again:
        return await page(request, "invite.html", status=400, token=token, error="mismatch")
    try:
        await asyncio.to_thread(accounts(request).accept_invite, token, password)
    except AccountError as e:
        return await page(request, "invite.html", status=400, token=token,
                          error="invalid" if str(e) == "invite" else "short")
    await note(request, "password_set")
    raise redirect("/desk/sign-in")


@routes.get("/audit")
@allow("admin")
async def audit_log(request: web.Request) -> web.Response:
    """The latest sign-ins and actions, newest first (details are masked when written)."""
    from sqlalchemy import select

    from bot.storage.models import DeskAudit

    with accounts(request).store.session() as session:
        rows = session.execute(select(DeskAudit).order_by(DeskAudit.id.desc()).limit(300)).scalars().all()
        lines = [(r.at, r.username, r.action, r.detail) for r in rows]
    return await page(request, "audit.html", nav="audit", lines=lines)
