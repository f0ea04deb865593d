"""aiohttp application: the web chat page at / and POST /api/chat for the page and other front ends.

Who is talking is decided by the server, never by the body:

- The web page: GET / (or the first POST) gives the browser a session cookie `tthc_session`
  (an unguessable id, signed; HttpOnly, SameSite=Strict, Secure when WEB_HTTPS is set).
  That id is the user. POST /api/session gives a fresh one ("Bắt đầu lại").
- Another front end: `Authorization: Bearer <key>` with a key from API_KEYS. It names its
  own users in "user" (1-64 of A-Z a-z 0-9 _ . : @ -), kept apart from every other front
  end's. A front end whose key is marked `:slots` may send "slots": true to get the slots.

POST /api/chat  {"text": "<message or button payload>"}                    (web page, with its cookie)
POST /api/chat  {"user": "<id>", "text": "...", "slots": false}            (Authorization: Bearer <key>)
-> 200 {"replies": [{"text", "buttons": [{"title", "payload"}], "links": [{"title", "url"}],
        "checklist": [...]}], "intent", "confidence", "flow", "procedures", "started", "completed"}
        (+ "slots" when a trusted front end asked for them)
-> 400 {"error": "<Vietnamese message>", "field": "<the field at fault>"}  (bodies over 64 KiB too)
-> 401 {"error": ..., "field": "Authorization"}  a wrong API key
-> 500 {"error": "<Vietnamese apology>", "field": null}  the turn failed; nothing the user sent is lost
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.assistant import Assistant
from bot.desk_web import attach as attach_desk
from bot.desk_web.delivery import take_web_updates
from bot.outbox import replies_to_json
from bot.settings import Settings
from bot.web.dossier_events import register_dossier_events
from bot.web.payload import MAX_BODY, PayloadError, bad_request, clean_text, message, read_json, user_id_problem
from bot.web.session import COOKIE, ApiKeys, Caller, WebSessions, stored_secret

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ASSISTANT = web.AppKey("assistant", Assistant)
SESSIONS = web.AppKey("web_sessions", WebSessions)
API_KEYS = web.AppKey("api_keys", ApiKeys)
MAX_TEXT = 4000
WEB_CHANNEL = "web"

# Sent with every answer of the app and its sub-apps, error pages included (on_response_prepare).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Server": "tthc-assistant",  # no versions for a scanner to match
}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _caller(request: web.Request, body: dict[str, Any]) -> Caller:
    """The front end and user a request speaks for (PayloadError when it cannot be told)."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        front_end = request.app[API_KEYS].front_end(authorization)
        if front_end is None:
            raise PayloadError("Authorization", message("api_key_wrong"))
        problem = user_id_problem(body.get("user"))
        if problem:
            raise PayloadError("user", problem)
        if body.get("slots") and not front_end.slots:
            raise PayloadError("slots", message("slots_not_allowed"))
        return Caller(f"api-{front_end.name}", body["user"], may_read_slots=front_end.slots)
    if "user" in body:
        raise PayloadError("user", message("user_not_allowed"))
    sessions = request.app[SESSIONS]
    session_id = sessions.user_of(request.cookies.get(COOKIE))
    if session_id is not None:
        return Caller(WEB_CHANNEL, session_id)
    cookie = sessions.issue()  # a first visit straight to the API, or an expired cookie: a new conversation
    return Caller(WEB_CHANNEL, str(sessions.user_of(cookie)), new_session=cookie)


def _chat_request(body: Any) -> str:
    if not isinstance(body, dict):
        raise PayloadError("body", message("body_not_object"))
    text = body.get("text")
    if not isinstance(text, str):
        raise PayloadError("text", message("text_not_string"))
    if len(text) > MAX_TEXT:
        raise PayloadError("text", message("text_too_long", max=MAX_TEXT))
    return clean_text(text)


async def chat(request: web.Request) -> web.Response:
    """Runs one turn for the caller and answers its replies and buttons as JSON."""
    try:
        body = await read_json(request)
        text = _chat_request(body)
        caller = _caller(request, body)
    except PayloadError as e:
        return bad_request(e) if e.field != "Authorization" else _json({"error": str(e), "field": e.field}, 401)
    assistant = request.app[ASSISTANT]
    try:
        turn = await assistant.handle(caller.channel, caller.user_id, text)
    except Exception:
        # Nothing the user sent is lost (the page keeps it and offers to retry); the trace goes to the log.
        log.exception("chat turn failed for a %s user", caller.channel)
        return _json({"error": assistant.engine.responses.text("internal_error"), "field": None}, 500)
    answer = turn.to_dict()
    if not (caller.may_read_slots and body.get("slots") is True):
        answer.pop("slots", None)  # dossier codes, phone numbers: only for a front end trusted with them
    response = _json(answer)
    if caller.new_session:
        request.app[SESSIONS].set_cookie(response, caller.new_session)
    return response


async def chat_updates(request: web.Request) -> web.Response:
    """What a person at the desk wrote to this browser's session since the page last asked, each once."""
    user = request.app[SESSIONS].user_of(request.cookies.get(COOKIE))
    if user is None:  # no session, nothing queued for it: never another visitor's messages
        return _json({"replies": []})
    replies = await asyncio.to_thread(take_web_updates, request.app[ASSISTANT].store, user)
    return _json({"replies": replies_to_json(replies)})


async def new_session(request: web.Request) -> web.Response:
    """Starts a fresh conversation for this browser: a new session cookie ("Bắt đầu lại")."""
    response = _json({"status": "ok"})
    request.app[SESSIONS].set_cookie(response, request.app[SESSIONS].issue())
    return response


async def index(request: web.Request) -> web.StreamResponse:
    """The chat page; a browser without a valid session gets one with it."""
    response = web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
    sessions = request.app[SESSIONS]
    if sessions.user_of(request.cookies.get(COOKIE)) is None:
        sessions.set_cookie(response, sessions.issue())
    return response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, errors included, gets the security headers (a signal, so no middleware order can skip it)."""
    for name, value in SECURITY_HEADERS.items():
        if name == "Server" or name not in response.headers:
            response.headers[name] = value


def create_app(assistant: Assistant, settings: Settings | None = None) -> web.Application:
    """The web app; channels, the desk and other route modules add to it (see bot.channels.attach_channels)."""
    settings = settings or Settings.load(environ={}, env_file=None)
    # Two KiB over our own limit, so read_body answers the Vietnamese 400 rather than aiohttp a bare 413.
    app = web.Application(client_max_size=MAX_BODY + 2048)
    app.on_response_prepare.append(security_headers)
    app[ASSISTANT] = assistant
    app[SESSIONS] = WebSessions(settings.session_secret or stored_secret(assistant.store), settings.web_https)
    app[API_KEYS] = ApiKeys(settings.api_keys)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/session", new_session)
    app.router.add_get("/api/chat/updates", chat_updates)
    app.router.add_static("/static/", STATIC)
    register_dossier_events(app, getattr(assistant, "dossiers", None))
    attach_desk(app, assistant, settings)
    return app
