"""aiohttp application: the web chat page at / and POST /api/chat for any front end.

POST /api/chat  {"user": "<id>", "text": "<message or button payload>"}
-> 200 {"replies": [{"text", "buttons": [{"title", "payload"}], "links": [{"title", "url"}],
        "checklist": [...]}], "intent", "confidence", "flow", "procedures"}
-> 400 {"error": "<Vietnamese message>", "field": "<the field at fault>"}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.assistant import Assistant
from bot.web.dossier_events import register_dossier_events

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ASSISTANT = web.AppKey("assistant", Assistant)
MAX_TEXT = 4000
MAX_USER = 128


class PayloadError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _bad_request(field: str, message: str) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=400)


def _chat_request(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise PayloadError("body", "Nội dung gửi lên phải là một đối tượng JSON có 'user' và 'text'.")
    user, text = body.get("user"), body.get("text")
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER:
        raise PayloadError("user", f"'user' phải là chuỗi từ 1 đến {MAX_USER} ký tự.")
    if not isinstance(text, str):
        raise PayloadError("text", "'text' phải là chuỗi ký tự.")
    if len(text) > MAX_TEXT:
        raise PayloadError("text", f"Tin nhắn quá dài (tối đa {MAX_TEXT} ký tự).")
    return user.strip(), text


async def chat(request: web.Request) -> web.Response:
    """Runs one turn for the web user and answers its replies and buttons as JSON."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad_request("body", "Nội dung gửi lên không phải JSON hợp lệ.")
    try:
        user, text = _chat_request(body)
    except PayloadError as e:
        return _bad_request(e.field, str(e))
    assistant = request.app[ASSISTANT]
    try:
        turn = await assistant.handle("web", user, text)
    except Exception:
        # Nothing the user sent is lost (the page keeps it and offers to retry); the trace goes to the log.
        log.exception("chat turn failed for a web user")
        return web.json_response({"error": assistant.engine.responses.text("internal_error"), "field": None}, status=500)
    return web.json_response(turn.to_dict(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def create_app(assistant: Assistant) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=64 * 1024)
    app[ASSISTANT] = assistant
    app.router.add_get("/", index)
    app.router.add_get("/healthz", health)
    app.router.add_post("/api/chat", chat)
    app.router.add_static("/static/", STATIC)
    register_dossier_events(app, getattr(assistant, "dossiers", None))
    return app
