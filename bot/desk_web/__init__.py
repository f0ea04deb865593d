"""The desk's web app at /desk: staff answer people, volunteers look procedures up, the province sees figures.

`attach(app, assistant)` mounts it into the chat's aiohttp app (one line in bot.web.create_app),
with the outbox dispatcher that carries staff answers (the web chat collects its share from GET /api/chat/updates).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot.desk_web import auth, figures, inbox, volunteer
from bot.desk_web.delivery import DISPATCHER, outbox_context
from bot.desk_web.keys import ACCOUNTS_KEY, ASSISTANT_KEY, HANDOVER_KEY, SETTINGS_KEY
from bot.desk_web.render import refused
from bot.desk_web.security import make_guard, session_key
from bot.handover import Handover
from bot.outbox import Dispatcher
from bot.settings import ROOT, Settings
from bot.users import Accounts
from knowledge import in_vietnam

HERE = Path(__file__).resolve().parent
PREFIX = "/desk"
SESSION_HOURS = 10  # one working day, then sign in again


def vntime(at: datetime | None) -> str:
    """A stored UTC time as people at the desk read it (Vietnam time)."""
    return "" if at is None else in_vietnam(at).strftime("%d/%m/%Y %H:%M")


def minutes(span: timedelta) -> str:
    """A wait in minutes, one decimal below ten."""
    value = span.total_seconds() / 60
    return f"{value:.1f}".replace(".", ",") if value < 10 else f"{value:.0f}"


def _desk_only(middleware: Any) -> Any:
    """Runs a middleware for /desk pages only (the chat and webhooks never see the desk's session)."""

    @web.middleware
    async def scoped(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return await middleware(request, handler)
        return await handler(request)

    return scoped


def attach(app: web.Application, assistant: Any, settings: Settings | None = None) -> None:
    """Mounts /desk and the outbox dispatcher's life cycle.

    The desk's routes are added under /desk with their own middlewares rather than with
    `app.add_subapp`: aiohttp 3.9's sub-app resolver builds `request.url`, which the locked yarl
    1.25 refuses for a Host header with a port ("127.0.0.1:8080"), so every /desk page failed.
    """
    if getattr(assistant, "store", None) is None:
        return  # a stand-in assistant without storage (tests of the chat alone): no desk to show
    if getattr(assistant, "handover", None) is None:
        assistant.handover = Handover(assistant.store, assistant.engine.responses)
    settings = settings or Settings.load()
    # One outbox dispatcher per process: the dossier service's when it runs one (it carries notices too).
    dispatcher = getattr(getattr(assistant, "dossiers", None), "dispatcher", None)
    own_dispatcher = dispatcher is None
    if dispatcher is None:
        dispatcher = Dispatcher(assistant.store, interval=1.0)
    accounts = Accounts(assistant.store, settings.desk_lockout_attempts, timedelta(minutes=settings.desk_lockout_minutes))
    storage = EncryptedCookieStorage(
        Fernet(session_key(settings.desk_session_key, ROOT / "var")), cookie_name="desk_session", path=PREFIX,
        httponly=True, samesite="Strict", secure=settings.desk_cookie_secure, max_age=SESSION_HOURS * 3600,
    )
    app.middlewares.append(_desk_only(aiohttp_session.session_middleware(storage)))
    app.middlewares.append(_desk_only(make_guard(accounts.get, refused)))
    app[DISPATCHER] = dispatcher
    app[ACCOUNTS_KEY] = accounts
    app[HANDOVER_KEY] = assistant.handover
    app[ASSISTANT_KEY] = assistant
    app[SETTINGS_KEY] = settings
    assistant.handover.on_enqueue = dispatcher.wake
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.globals["static"] = PREFIX + "/static/"
    env.filters.update(vntime=vntime, minutes=minutes)
    for module in (auth, inbox, volunteer, figures):
        for route in module.routes:
            assert isinstance(route, web.RouteDef)
            app.router.add_route(route.method, PREFIX + route.path, route.handler)
    app.router.add_static(PREFIX + "/static/", HERE / "static")
    app.cleanup_ctx.append(outbox_context(dispatcher, run=own_dispatcher))


def desk_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """Every /desk route: (method, path, roles allowed; None = public), for the guard tests."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith(PREFIX) and route.method != "HEAD":
            found.append((route.method, path, getattr(route.handler, "desk_roles", frozenset())))
    return found
