"""A local stand-in for Zalo, and our web app wired to it, for the Zalo channel tests.

FakeZalo plays both sides of the platform over real HTTP on 127.0.0.1:
- the Open API (`POST /v3.0/oa/message/cs`) and OAuth (`POST /v4/oa/access_token`) the channel
  calls, checking each request the way Zalo documents it (see `check_message`,
  `check_refresh`); a request that breaks a rule is recorded in `violations` and answered
  with error -201, so a test sees both;
- the webhook calls Zalo makes: events shaped like Zalo's, signed with
  X-ZEvent-Signature = "mac=" + sha256(app_id + body + timestamp + OA secret key).

It issues and rotates tokens like Zalo (a refresh token works once), refuses to write to
users who never wrote to the OA (-230), and can be told to answer any error code.

ZaloRig serves our real aiohttp app (web chat + Zalo channel) on 127.0.0.1, pointed at a
FakeZalo, and can stop and start it again on the same database.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

BUTTON_TYPES = {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.sms", "oa.open.phone"}
MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_QUERY_PAYLOAD = 1000
TOKEN_LIFETIME_S = 90000  # Zalo's access tokens live 25 hours
INVALID_PARAMS = -201
_ids = itertools.count(1)


@dataclass
class SentMessage:
    user_id: str
    message: dict[str, Any]
    message_id: str
    time_ms: int = 0


@dataclass
class SendCall:
    """One call to /v3.0/oa/message/cs, accepted or not."""

    user_id: str
    access_token: str
    error: int


def check_message(body: Any) -> list[str]:
    """What is wrong with a consultation-message request body, by Zalo's documented shape and limits."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(body) - {"recipient", "message"})]
    recipient, message = body.get("recipient"), body.get("message")
    if not isinstance(recipient, dict) or set(recipient) != {"user_id"}:
        problems.append(f"recipient must be {{'user_id': ...}}, got {recipient!r}")
    elif not isinstance(recipient["user_id"], str) or not recipient["user_id"]:
        problems.append("recipient.user_id must be a non-empty string")
    if not isinstance(message, dict):
        return problems + ["message must be an object"]
    problems += [f"unknown message key {k!r}" for k in sorted(set(message) - {"text", "attachment"})]
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("message.text must be non-empty text")
    elif len(text) > MAX_TEXT:
        problems.append(f"message.text is {len(text)} characters, Zalo allows {MAX_TEXT}")
    if "attachment" in message:
        problems += _check_attachment(message["attachment"])
    return problems


def _check_attachment(attachment: Any) -> list[str]:
    if not isinstance(attachment, dict) or attachment.get("type") != "template" or set(attachment) != {"type", "payload"}:
        return [f"attachment must be {{'type': 'template', 'payload': ...}}, got {attachment!r}"]
    payload = attachment["payload"]
    if not isinstance(payload, dict) or set(payload) != {"buttons"}:
        return [f"a text-with-buttons template payload holds only 'buttons', got {payload!r}"]
    buttons = payload["buttons"]
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        return [f"buttons must be a list of 1 to {MAX_BUTTONS}, got {len(buttons) if isinstance(buttons, list) else buttons!r}"]
    problems: list[str] = []
    for number, button in enumerate(buttons, 1):
        where = f"button {number}"
        if not isinstance(button, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(button) - {"title", "type", "payload", "image_icon"})]
        title, kind, value = button.get("title"), button.get("type"), button.get("payload")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            problems.append(f"{where}: title must be 1 to {MAX_TITLE} characters, got {title!r}")
        if kind not in BUTTON_TYPES:
            problems.append(f"{where}: type {kind!r} is not one of {sorted(BUTTON_TYPES)}")
        elif kind in ("oa.query.show", "oa.query.hide"):
            if not isinstance(value, str) or not value or len(value) > MAX_QUERY_PAYLOAD:
                problems.append(f"{where}: {kind} payload must be a string of 1 to {MAX_QUERY_PAYLOAD} characters")
        elif kind == "oa.open.url":
            if not isinstance(value, dict) or set(value) != {"url"} or not str(value["url"]).startswith(("https://", "http://")):
                problems.append(f"{where}: oa.open.url payload must be {{'url': 'http(s)://...'}}, got {value!r}")
        elif not isinstance(value, dict):
            problems.append(f"{where}: {kind} payload must be an object")
    return problems


class FakeZalo:
    """Zalo's Open API, OAuth and webhook sender, on 127.0.0.1."""

    def __init__(self) -> None:
        n = next(_ids)
        self.app_id = f"36084652494090{n:04d}"
        self.app_secret = f"app-secret-{uuid.uuid4().hex}"
        self.oa_secret_key = f"oa-secret-{uuid.uuid4().hex}"
        self.oa_id = f"38861328087880{n:04d}"
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.refresh_tokens: set[str] = set()  # valid, unused
        self.used_refresh_tokens: set[str] = set()
        self.initial_access_token = self._issue_access_token()
        self.initial_refresh_token = self._issue_refresh_token()
        self.sent: list[SentMessage] = []
        self.calls: list[SendCall] = []
        self.refreshes: list[dict[str, str]] = []
        self.violations: list[str] = []
        self.unreachable: dict[str, int] = {}
        self.known_users: set[str] = set()  # wrote to the OA: inside the messaging window
        self._failures: deque[tuple[int, str]] = deque()
        self._outages = 0
        # Seconds each accepted message takes to answer (it is delivered on receipt, as Zalo does):
        # a slow Zalo, or a send still in flight when our process is killed.
        self.send_delay = 0.0
        self.conversation_reads = 0
        self._stalls = 0
        self.webhook_url = ""
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # serving -------------------------------------------------------------------------------

    async def start(self) -> FakeZalo:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send_message)
        app.router.add_post("/v4/oa/access_token", self._access_token)
        app.router.add_get("/v2.0/oa/conversation", self._conversation)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._client = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def settings_values(self) -> dict[str, str]:
        """The Settings fields that point the channel at this fake."""
        return {
            "zalo_app_id": self.app_id,
            "zalo_app_secret": self.app_secret,
            "zalo_oa_secret_key": self.oa_secret_key,
            "zalo_access_token": self.initial_access_token,
            "zalo_refresh_token": self.initial_refresh_token,
            "zalo_api_base_url": self.url,
            "zalo_oauth_base_url": self.url,
        }

    # controls ------------------------------------------------------------------------------

    def fail_next(self, code: int, times: int = 1, message: str = "") -> None:
        """The next `times` send calls get error `code`."""
        self._failures.extend([(code, message or f"fake error {code}")] * times)

    def go_down(self, times: int = 1) -> None:
        """The next `times` send calls get HTTP 503, as when Zalo's front end is overloaded."""
        self._outages += times

    def stall(self, times: int = 1) -> None:
        """The next `times` send calls are never answered (the caller's timeout fires); nothing is delivered."""
        self._stalls += times

    def expire_access_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = time.time() - 1

    def spend_refresh_token(self) -> None:
        """Someone else used our refresh token: the next refresh with it is refused."""
        self.used_refresh_tokens |= self.refresh_tokens
        self.refresh_tokens.clear()

    def make_unreachable(self, user_id: str, code: int = -230) -> None:
        self.unreachable[user_id] = code

    def make_reachable(self, user_id: str) -> None:
        self.unreachable.pop(user_id, None)

    @property
    def current_refresh_token(self) -> str:
        return next(iter(self.refresh_tokens), "")

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        return [s.message for s in self.sent if s.user_id == user_id]

    def calls_for(self, user_id: str) -> list[SendCall]:
        return [c for c in self.calls if c.user_id == user_id]

    # webhook calls, as Zalo makes them -----------------------------------------------------

    def event(self, user_id: str, event_name: str = "user_send_text", text: str | None = None,
              msg_id: str | None = None, timestamp_ms: int | None = None,
              attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"msg_id": msg_id or uuid.uuid4().hex}
        if text is not None:
            message["text"] = text
        if attachments is not None:
            message["attachments"] = attachments
        return {
            "app_id": self.app_id,
            "user_id_by_app": f"app-{user_id}",
            "event_name": event_name,
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "message": message,
            "timestamp": str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)),
        }

    def sign(self, body: bytes, timestamp: str) -> str:
        mac = hashlib.sha256(self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode())
        return "mac=" + mac.hexdigest()

    async def deliver(self, event: dict[str, Any], signature: str | None = None, body: bytes | None = None) -> int:
        """Posts an event to the webhook, signed as Zalo signs it (unless told otherwise); answers the status."""
        assert self._client is not None and self.webhook_url, "start() the fake and the app first"
        try:
            raw = json.dumps(event, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate travels as its \ud800 escape
            raw = json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        mac = self.sign(raw, str(event.get("timestamp", ""))) if signature is None else signature
        if mac:
            headers["X-ZEvent-Signature"] = mac
        if event.get("event_name", "").startswith("user_send_"):
            self.known_users.add(event["sender"]["id"])
        async with self._client.post(self.webhook_url, data=body if body is not None else raw, headers=headers) as response:
            await response.read()
            return response.status

    async def user_sends_text(self, user_id: str, text: str, msg_id: str | None = None) -> int:
        return await self.deliver(self.event(user_id, text=text, msg_id=msg_id))

    # the Open API --------------------------------------------------------------------------

    async def _send_message(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        if self._stalls:
            self._stalls -= 1
            self.calls.append(SendCall("", token, 504))
            await asyncio.sleep(3600)
        if self._outages:
            self._outages -= 1
            self.calls.append(SendCall("", token, 503))
            return web.Response(status=503, text="Service Unavailable")
        if "access_token" in request.query:
            self.violations.append("access_token sent in the query string; Zalo wants it in the header")
        if request.content_type != "application/json":
            return self._invalid(f"Content-Type {request.content_type!r}, expected application/json")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._invalid("body is not JSON")
        user_id = str(((body or {}).get("recipient") or {}).get("user_id", "")) if isinstance(body, dict) else ""
        if not token:
            self.violations.append("no access_token header")
            return self._error(user_id, token, -216, "Access token is missing")
        if token not in self.access_tokens:
            return self._error(user_id, token, -216, "Access token is invalid")
        if self.access_tokens[token] < time.time():
            return self._error(user_id, token, -220, "Access token has expired")
        problems = check_message(body)
        if problems:
            return self._invalid("; ".join(problems), user_id, token)
        if self._failures:
            code, message = self._failures.popleft()
            return self._error(user_id, token, code, message)
        if user_id in self.unreachable or user_id not in self.known_users:
            code = self.unreachable.get(user_id, -230)
            return self._error(user_id, token, code, "User has not interacted with the OA in the last 7 days")
        message_id = uuid.uuid4().hex
        self.sent.append(SentMessage(user_id, body["message"], message_id, int(time.time() * 1000)))
        self.calls.append(SendCall(user_id, token, 0))
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        return web.json_response({"data": {"message_id": message_id, "user_id": user_id}, "error": 0, "message": "Success"})

    async def _conversation(self, request: web.Request) -> web.Response:
        """GET /v2.0/oa/conversation?data={"user_id", "offset", "count" (at most 10)}: newest first."""
        token = request.headers.get("access_token", "")
        if token not in self.access_tokens or self.access_tokens[token] < time.time():
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        try:
            query = json.loads(request.query.get("data", ""))
            user_id, offset, count = str(query["user_id"]), int(query.get("offset", 0)), int(query.get("count", 5))
        except (ValueError, KeyError, TypeError):
            self.violations.append(f"conversation query {request.query_string!r} is not data={{user_id, offset, count}}")
            return web.json_response({"error": INVALID_PARAMS, "message": "Parameters are invalid"})
        if not 1 <= count <= 10:
            self.violations.append(f"conversation count {count}: Zalo allows 1 to 10")
        self.conversation_reads += 1
        mine = [s for s in reversed(self.sent) if s.user_id == user_id][offset:offset + count]
        return web.json_response({"error": 0, "message": "Success", "data": [
            {"src": 0, "time": s.time_ms, "type": "text", "message": s.message.get("text", ""),
             "message_id": s.message_id, "from_id": self.oa_id, "to_id": s.user_id} for s in mine
        ]})

    def _error(self, user_id: str, token: str, code: int, message: str) -> web.Response:
        self.calls.append(SendCall(user_id, token, code))
        return web.json_response({"error": code, "message": message})  # Zalo answers errors with HTTP 200

    def _invalid(self, reason: str, user_id: str = "", token: str = "") -> web.Response:
        self.violations.append(reason)
        return self._error(user_id, token, INVALID_PARAMS, f"Parameters are invalid: {reason}")

    # OAuth ---------------------------------------------------------------------------------

    async def _access_token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            self.violations.append(f"refresh sent as {request.content_type!r}, Zalo wants a form")
            return self._oauth_error(-14001, "Invalid request")
        form = dict(await request.post())
        self.refreshes.append({k: str(v) for k, v in form.items()})
        if request.headers.get("secret_key") != self.app_secret:
            self.violations.append("refresh without the app's secret_key header")
            return self._oauth_error(-14002, "Invalid secret key")
        unknown = set(form) - {"app_id", "grant_type", "refresh_token"}
        if unknown or form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
            self.violations.append(f"refresh form must be app_id, grant_type=refresh_token, refresh_token: {sorted(form)}")
            return self._oauth_error(-14003, "Invalid parameters")
        token = str(form.get("refresh_token", ""))
        if token in self.used_refresh_tokens:
            return self._oauth_error(-14014, "Refresh token has already been used")
        if token not in self.refresh_tokens:
            return self._oauth_error(-14014, "Invalid refresh token")
        self.refresh_tokens.discard(token)
        self.used_refresh_tokens.add(token)
        return web.json_response({
            "access_token": self._issue_access_token(),
            "refresh_token": self._issue_refresh_token(),
            "expires_in": str(TOKEN_LIFETIME_S),  # Zalo sends it as a string
        })

    @staticmethod
    def _oauth_error(code: int, description: str) -> web.Response:
        return web.json_response({"error": code, "error_name": "Invalid parameter", "error_description": description})

    def _issue_access_token(self) -> str:
        token = f"at-{uuid.uuid4().hex}"
        self.access_tokens[token] = time.time() + TOKEN_LIFETIME_S
        return token

    def _issue_refresh_token(self) -> str:
        token = f"rt-{uuid.uuid4().hex}"
        self.refresh_tokens.add(token)
        return token


class ZaloRig:
    """Our aiohttp app (web chat + Zalo channel) served on 127.0.0.1 and pointed at a FakeZalo."""

    def __init__(self, fake: FakeZalo, settings: Any, nlu_model: Any, assistant: Any = None):
        self.fake = fake
        self.settings = replace(settings, **fake.settings_values())
        self.nlu_model = nlu_model
        self.assistant = assistant
        self.server: TestServer | None = None
        self.channel: Any = None

    async def start(self, process_events: bool = True, backoff: tuple[float, ...] = (0.01, 0.02, 0.05),
                    shutdown_grace: float | None = None) -> ZaloRig:
        from bot.channels import zalo
        from bot.runtime import build_assistant
        from bot.web import create_app

        if self.assistant is None:
            self.assistant = build_assistant(self.settings, nlu=self.nlu_model)
        app = create_app(self.assistant, self.settings)
        zalo.attach(app, self.assistant, self.settings)
        self.channel = app[zalo.ZALO]
        self.channel.process_events = process_events
        self.channel.api.backoff = backoff
        if shutdown_grace is not None:
            self.channel.shutdown_grace = shutdown_grace
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.fake.webhook_url = str(self.server.make_url(zalo.WEBHOOK_PATH))
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def restart(self, **options: Any) -> ZaloRig:
        """Stops the app and starts a new one (new Assistant, new channel) on the same database."""
        from bot.runtime import build_assistant

        await self.stop()
        clock = self.assistant.clock if self.assistant is not None else None
        self.assistant = build_assistant(self.settings, nlu=self.nlu_model)
        if clock is not None:
            self.assistant.clock = clock
        return await self.start(**options)

    async def settle(self) -> None:
        """Waits until every event the channel has queued is answered."""
        await self.channel.drain()
