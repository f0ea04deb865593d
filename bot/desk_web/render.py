"""Rendering desk pages: the template, who is signed in, the CSRF token, a note from the last action."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from bot.desk_web.security import ME, csrf_token

NOTE = "note"  # a one-time message key (see templates/notes.html) shown on the next page


async def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = await get_session(request)
    note = session.pop(NOTE, None)
    response = aiohttp_jinja2.render_template(
        template, request, {"me": request.get(ME), "csrf": await csrf_token(request), "note": note, **context},
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"  # staff pages hold personal data: no back-button copies
    return response


async def note(request: web.Request, key: str) -> None:
    (await get_session(request))[NOTE] = key


async def refused(request: web.Request, status: int) -> web.Response:
    return await page(request, "refused.html", status=status, code=status)


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)
