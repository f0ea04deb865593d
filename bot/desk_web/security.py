"""Who may see what at /desk: the session cookie, the CSRF token, and one guard that refuses by default.

Every handler says who may use it (`@allow("staff", "admin")` or `@public`); a handler that says
nothing is refused to everyone, so a new page cannot be left open by mistake.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp_session import get_session
from cryptography.fernet import Fernet
from yarl import URL

from bot.users import DeskUser

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ME = "desk_user"  # request key of the signed-in DeskUser
CSRF = "csrf"
SIGN_IN = "/desk/sign-in"


def allow(*roles: str) -> Callable[[Handler], Handler]:
    """Only signed-in accounts with one of these roles reach the handler."""

    def mark(handler: Handler) -> Handler:
        handler.desk_roles = frozenset(roles)  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: Handler) -> Handler:
    """Reachable signed out (the sign-in and invitation pages)."""
    handler.desk_roles = None  # type: ignore[attr-defined]
    return handler


def session_key(configured: str, folder: Path) -> bytes:
    """The configured Fernet key, or one kept in var/desk_session.key (created once, mode 0600)."""
    if configured:
        Fernet(configured.encode())  # a bad key fails at start-up with cryptography's own message
        return configured.encode()
    path = folder / "desk_session.key"
    if path.exists():
        return path.read_bytes().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    log.info("desk: generated a session key into %s", path)
    return key


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(32)
    return str(session[CSRF])


def _roles_of(request: web.Request) -> Any:
    handler = request.match_info.handler
    if request.match_info.route.resource is not None and request.path.startswith("/desk/static/"):
        return None
    return getattr(handler, "desk_roles", frozenset())


def make_guard(load_user: Callable[[int], DeskUser | None], refused: Callable[[web.Request, int], Awaitable[web.StreamResponse]]):
    """The middleware: signed in, the right role, and a matching CSRF token on every POST."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        roles = _roles_of(request)
        session = await get_session(request)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            form = await request.post()
            sent = str(form.get(CSRF, ""))
            expected = str(session.get(CSRF, ""))
            if not expected or not hmac.compare_digest(sent, expected):
                log.warning("desk: %s %s refused: CSRF token missing or wrong", request.method, request.path)
                return await refused(request, 403)
        if roles is None:
            return await handler(request)
        user = load_user(int(session["uid"])) if "uid" in session else None
        if user is None:
            if "uid" in session:
                session.invalidate()  # the account was disabled meanwhile
            if request.method == "GET":
                raise web.HTTPSeeOther(URL(SIGN_IN).with_query(next=request.rel_url.path_qs))
            return await refused(request, 401)
        if user.role not in roles:
            log.warning("desk: %s (%s) refused %s %s", user.username, user.role, request.method, request.path)
            return await refused(request, 403)
        request[ME] = user
        return await handler(request)

    return guard


def me(request: web.Request) -> DeskUser:
    return request[ME]
