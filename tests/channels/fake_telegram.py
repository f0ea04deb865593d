"""A local replica of the Telegram Bot API for tests: real HTTP on 127.0.0.1, and the checks the real API makes.

The real python-telegram-bot client is pointed at it with `base_url`, so the library's own requests
and its parsing of the answers run. It serves getMe, getUpdates (long polling), setWebhook,
deleteWebhook, getWebhookInfo, setMyCommands, sendMessage, answerCallbackQuery and
editMessageReplyMarkup; records every call; injects updates the way a Telegram user causes them
(text, commands, button presses, photos, stickers, voice notes, files, locations, contacts, blocking
the bot) and delivers them by long polling or, when a webhook is set, by POSTing them to it with the
secret header; and can answer a call with 429 + retry_after or 403 Forbidden.

What it checks, as the Bot API documents it (a failed check answers 400/409 with Telegram's
description and is kept in `rejected`, which the tests assert stays empty):
- the token in the URL (401 Unauthorized) and the method name (404 Not Found);
- sendMessage: chat_id given and a chat that has written to the bot ("chat not found"); text
  given, not blank, at most 4096 characters counted in UTF-16 units ("message is too long");
  parse_mode, when given, one of HTML, Markdown, MarkdownV2; link_preview_options an object;
- reply_markup: a JSON object of a known keyboard type; an inline keyboard is an array of rows
  (arrays) of buttons, each with a non-empty text and exactly one action; callback_data 1-64
  bytes (BUTTON_DATA_INVALID); URL buttons with an http(s) or tg URL; at most 8 buttons a row
  and 100 in all;
- answerCallbackQuery: the id of a query that was sent and not yet answered; text up to 200;
- editMessageReplyMarkup: a message the bot sent in that chat, and a markup that changes it;
- getUpdates: refused with 409 while a webhook is set; `offset` confirms (forgets) older
  updates; `allowed_updates` is remembered and filters what is delivered;
- setWebhook: an HTTPS URL on port 443, 80, 88 or 8443 (plain http is allowed to 127.0.0.1 only,
  for tests); secret_token of 1-256 characters from A-Z, a-z, 0-9, _ and -;
- setMyCommands: commands of 1-32 lowercase letters, digits or underscores; descriptions 1-256.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import re
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable
from urllib.parse import urlparse

from aiohttp import ClientSession, ClientTimeout, web

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
INLINE_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)
DEFAULT_UPDATE_TYPES = {  # what Telegram delivers when allowed_updates was never given
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "inline_query",
    "chosen_inline_result", "shipping_query", "pre_checkout_query", "poll", "poll_answer", "my_chat_member",
    "chat_join_request",
}
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


class ApiError(Exception):
    """An error answer; `rejection` marks what a correct client never causes."""

    def __init__(self, code: int, description: str, rejection: bool = True, parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.rejection = rejection
        self.parameters = parameters


@dataclass
class Call:
    """One request the bot made: the method, its parameters (JSON ones decoded), when, and the status answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    description: str = ""


@dataclass
class Fault:
    method: str
    status: int
    description: str
    chat_id: int | None
    retry_after: int | None
    times: int


@dataclass
class SentMessage:
    """A message the bot sent (and its keyboard as last edited)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict | None
    at: float
    edits: list[dict | None] = field(default_factory=list)

    @property
    def inline_keyboard(self) -> list[list[dict]]:
        return (self.reply_markup or {}).get("inline_keyboard", [])

    @property
    def callback_buttons(self) -> list[dict]:
        return [b for row in self.inline_keyboard for b in row if "callback_data" in b]

    @property
    def url_buttons(self) -> list[dict]:
        return [b for row in self.inline_keyboard for b in row if "url" in b]

    def button(self, title_part: str) -> dict:
        for b in self.callback_buttons:
            if title_part in b["text"]:
                return b
        titles = [b["text"] for b in self.callback_buttons]
        raise AssertionError(f"no button {title_part!r} under message {self.message_id}: {titles}")


def _json_param(params: dict[str, Any], name: str, what: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, f"Bad Request: can't parse {what} JSON object") from None
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    """The fake Bot API server; `base_url` is what python-telegram-bot's `base_url` is set to."""

    def __init__(self, token: str = "7000000001:AAF_fake-token_for_tests", username: str = "tthc_test_bot"):
        self.token = token
        self.bot = {
            "id": int(token.split(":")[0]), "is_bot": True, "first_name": "Trợ lý TTHC (thử)", "username": username,
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        self.sent: list[SentMessage] = []
        self.webhook: dict[str, Any] | None = None
        self.allowed_updates: set[str] = set(DEFAULT_UPDATE_TYPES)
        self.commands: list[dict] = []
        self.deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status) of each webhook POST
        self._updates: list[dict] = []  # waiting to be fetched by getUpdates
        self._arrived = asyncio.Event()
        self._update_ids = itertools.count(100001)
        self._query_ids = itertools.count(9001)
        self._message_ids: dict[int, itertools.count] = {}
        self._chats: set[int] = set()
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._queries: dict[str, dict] = {}
        self._faults: list[Fault] = []
        self._outbox: asyncio.Queue[dict] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self._deliverer: asyncio.Task | None = None
        self.port = 0
        self.send_delay = 0.0

    # ------------------------------------------------------------ server

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._deliverer = asyncio.create_task(self._deliver())

    async def close(self) -> None:
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            params = await self._params(request)
        except (ValueError, UnicodeDecodeError):
            return self._answer(ApiError(400, "Bad Request: can't parse request body"))
        if request.match_info["token"] != self.token:
            return self._answer(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        handler = getattr(self, "_api_" + method.lower(), None)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if handler is None:
            call.status, call.description = 404, "Not Found"
            self.rejected.append(call)
            return self._answer(ApiError(404, "Not Found"))
        try:
            self._fault_for(method, params)
            result = await handler(params)
        except ApiError as e:
            call.status, call.description = e.code, e.description
            if e.rejection:
                self.rejected.append(call)
            return self._answer(e)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _answer(error: ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    # ------------------------------------------------------------ faults

    def fail_next(
        self, method: str, status: int, *, retry_after: int | None = None, chat_id: int | None = None,
        description: str | None = None, times: int = 1,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) answer `status` instead."""
        default = {429: f"Too Many Requests: retry after {retry_after}", 403: "Forbidden: bot was blocked by the user"}
        self._faults.append(Fault(method, status, description or default.get(status, "Internal Server Error"),
                                  chat_id, retry_after, times))

    def _fault_for(self, method: str, params: dict[str, Any]) -> None:
        for fault in self._faults:
            if fault.method == method and (fault.chat_id is None or str(fault.chat_id) == str(params.get("chat_id"))):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                raise ApiError(fault.status, fault.description, rejection=False, parameters=parameters)

    # ------------------------------------------------------------ updates in

    def _user(self, chat_id: int) -> dict:
        return {"id": chat_id, "is_bot": False, "first_name": "Người dân", "language_code": "vi"}

    def _chat(self, chat_id: int) -> dict:
        return {"id": chat_id, "type": "private", "first_name": "Người dân"}

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _inject(self, kind: str, body: dict) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, kind: body}
        if kind not in self.allowed_updates:
            return update_id  # Telegram does not deliver what the bot did not ask for
        if self.webhook is not None:
            self._outbox.put_nowait(update)
        else:
            self._updates.append(update)
            self._arrived.set()
            self._arrived = asyncio.Event()
        return update_id

    def _user_message(self, chat_id: int, **content: Any) -> int:
        self._chats.add(chat_id)
        message = {
            "message_id": self._next_message_id(chat_id), "from": self._user(chat_id), "chat": self._chat(chat_id),
            "date": int(time.time()), **content,
        }
        return self._inject("message", message)

    def message(self, chat_id: int, text: str) -> int:
        """The user types `text` (a leading /command gets its bot_command entity, as the apps send it)."""
        content: dict[str, Any] = {"text": text}
        command = _COMMAND.match(text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command.group(0))}]
        return self._user_message(chat_id, **content)

    def _file(self, kind: str) -> dict:
        n = next(self._query_ids)
        return {"file_id": f"{kind}-file-{n}", "file_unique_id": f"{kind}{n}"}

    def photo(self, chat_id: int, caption: str | None = None) -> int:
        sizes = [{**self._file("photo"), "width": w, "height": w, "file_size": w * 40} for w in (90, 320, 800)]
        return self._user_message(chat_id, photo=sizes, **({"caption": caption} if caption else {}))

    def sticker(self, chat_id: int) -> int:
        return self._user_message(chat_id, sticker={
            **self._file("sticker"), "type": "regular", "width": 512, "height": 512, "is_animated": False,
            "is_video": False, "emoji": "👍",
        })

    def voice(self, chat_id: int) -> int:
        return self._user_message(chat_id, voice={**self._file("voice"), "duration": 4, "mime_type": "audio/ogg"})

    def document(self, chat_id: int, file_name: str = "to-khai.pdf") -> int:
        return self._user_message(chat_id, document={**self._file("doc"), "file_name": file_name, "mime_type": "application/pdf"})

    def location(self, chat_id: int) -> int:
        return self._user_message(chat_id, location={"latitude": 21.028511, "longitude": 105.804817})

    def contact(self, chat_id: int, phone_number: str = "0912345678") -> int:
        return self._user_message(chat_id, contact={"phone_number": phone_number, "first_name": "Người dân", "user_id": chat_id})

    def press(self, chat_id: int, message_id: int, callback_data: str) -> int:
        """The user taps the inline button carrying `callback_data` under the bot's message `message_id`."""
        sent = self._messages.get((chat_id, message_id))
        if sent is None or not any(b.get("callback_data") == callback_data for b in sent.callback_buttons):
            raise AssertionError(f"chat {chat_id} shows no button {callback_data!r} under message {message_id}")
        query_id = str(next(self._query_ids))
        self._queries[query_id] = {"chat_id": chat_id, "answered": None, "pressed_at": time.monotonic()}
        return self._inject("callback_query", {
            "id": query_id, "from": self._user(chat_id), "chat_instance": f"ci{chat_id}", "data": callback_data,
            "message": self._message_json(sent),
        })

    def block(self, chat_id: int, notify: bool = True) -> int | None:
        """The user blocks the bot: sends fail with 403; Telegram tells the bot with a my_chat_member update."""
        self._blocked.add(chat_id)
        return self._membership(chat_id, "member", "kicked") if notify else None

    def unblock(self, chat_id: int) -> int:
        self._blocked.discard(chat_id)
        return self._membership(chat_id, "kicked", "member")

    def _membership(self, chat_id: int, old: str, new: str) -> int:
        def member(status: str) -> dict:
            return {"status": status, "user": self.bot, **({"until_date": 0} if status == "kicked" else {})}

        return self._inject("my_chat_member", {
            "chat": self._chat(chat_id), "from": self._user(chat_id), "date": int(time.time()),
            "old_chat_member": member(old), "new_chat_member": member(new),
        })

    async def _deliver(self) -> None:
        """Posts updates to the webhook one by one, with the secret header; retries a failed POST like Telegram."""
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while True:
                update = await self._outbox.get()
                for attempt in range(6):
                    hook = self.webhook
                    if hook is None:
                        break
                    headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook.get("secret_token") else {}
                    try:
                        async with session.post(hook["url"], json=update, headers=headers) as response:
                            status = response.status
                    except OSError:
                        status = 0
                    self.deliveries.append((update["update_id"], status))
                    if 200 <= status < 300:
                        break
                    await asyncio.sleep(0.05 * 2**attempt)

    # ------------------------------------------------------------ checks shared by methods

    def _chat_id(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user", rejection=False)
        return chat_id

    def _markup(self, params: dict[str, Any], inline_only: bool = False) -> dict | None:
        markup = _json_param(params, "reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        elif "keyboard" in markup:
            if not isinstance(markup["keyboard"], list) or not all(isinstance(r, list) for r in markup["keyboard"]):
                raise ApiError(400, "Bad Request: field \"keyboard\" must be an Array of Arrays")
        elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: field \"inline_keyboard\" must be an Array of Arrays")
        total = 0
        for row in rows:
            if len(row) > 8:
                raise ApiError(400, "Bad Request: too many buttons in a row of the inline keyboard")
            for button in row:
                total += 1
                if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"].strip():
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
                actions = [a for a in INLINE_ACTIONS if a in button]
                if len(actions) != 1:
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                        "exactly one of the optional fields must be used")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    parsed = urlparse(url if isinstance(url, str) else "")
                    if parsed.scheme not in ("http", "https", "tg") or (parsed.scheme != "tg" and not parsed.netloc):
                        raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        if total > 100:
            raise ApiError(400, "Bad Request: reply markup is too long")

    def _message_json(self, sent: SentMessage) -> dict:
        message = {"message_id": sent.message_id, "from": self.bot, "chat": self._chat(sent.chat_id),
                   "date": int(time.time()), "text": sent.text}
        if sent.reply_markup and sent.reply_markup.get("inline_keyboard"):
            message["reply_markup"] = sent.reply_markup
        return message

    # ------------------------------------------------------------ methods

    async def _api_getme(self, params: dict[str, Any]) -> dict:
        return self.bot

    async def _api_getupdates(self, params: dict[str, Any]) -> list[dict]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        allowed = _json_param(params, "allowed_updates", "allowed updates")
        if allowed:
            self.allowed_updates = set(allowed)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self._updates if set(u) - {"update_id"} <= self.allowed_updates]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return ready[:limit]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        parsed = urlparse(url)
        loopback = parsed.scheme == "http" and parsed.hostname == "127.0.0.1"
        if parsed.scheme != "https" and not loopback:
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if not loopback and (parsed.port or 443) not in (443, 80, 88, 8443):
            raise ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: max_connections must be between 1 and 100")
        allowed = _json_param(params, "allowed_updates", "allowed updates")
        if allowed:
            self.allowed_updates = set(allowed)
        if str(params.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        self.webhook = {"url": url, "secret_token": secret}
        for update in self._updates:  # what waited for getUpdates now goes to the webhook
            self._outbox.put_nowait(update)
        self._updates.clear()
        return True

    async def _api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if str(params.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> dict:
        return {
            "url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
            "pending_update_count": len(self._updates) + self._outbox.qsize(), "allowed_updates": sorted(self.allowed_updates),
        }

    async def _api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = _json_param(params, "commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an Array of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self.commands = commands
        return True

    async def _api_sendmessage(self, params: dict[str, Any]) -> dict:
        chat_id = self._chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        parse_mode = params.get("parse_mode")
        if parse_mode is not None and parse_mode not in ("HTML", "Markdown", "MarkdownV2"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        preview = _json_param(params, "link_preview_options", "link preview options")
        if preview is not None and not isinstance(preview, dict):
            raise ApiError(400, "Bad Request: can't parse link preview options JSON object")
        markup = self._markup(params)
        sent = SentMessage(chat_id, self._next_message_id(chat_id), text, markup, time.monotonic())
        self.sent.append(sent)
        self._messages[(chat_id, sent.message_id)] = sent
        if self.send_delay:  # delivered on receipt, answered late: a kill meanwhile leaves it in flight
            await asyncio.sleep(self.send_delay)
        return self._message_json(sent)

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query = self._queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"] is not None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = time.monotonic()
        return True

    async def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> dict:
        chat_id = self._chat_id(params)
        sent = self._messages.get((chat_id, int(params.get("message_id") or 0)))
        if sent is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = self._markup(params, inline_only=True)
        if (markup or {}).get("inline_keyboard") == sent.inline_keyboard or (not markup and not sent.inline_keyboard):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply markup "
                                "are exactly the same as a current content and reply markup of the message")
        sent.edits.append(sent.reply_markup)
        sent.reply_markup = markup
        return self._message_json(sent)

    # ------------------------------------------------------------ for the tests

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def query_answered(self, update_id_or_query: str) -> float | None:
        return self._queries[update_id_or_query]["answered"]

    def last_query_id(self) -> str:
        return max(self._queries, key=int)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Polls `predicate` until it is truthy; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


class UpdateTracker:
    """Knows when the bot has finished an update: a handler in the last group marks each update done."""

    def __init__(self) -> None:
        self.done: set[int] = set()

    def install(self, application: Any) -> None:
        from telegram import Update
        from telegram.ext import TypeHandler

        async def mark(update: Update, context: Any) -> None:
            self.done.add(update.update_id)

        application.add_handler(TypeHandler(Update, mark), group=1000)

    async def wait(self, update_id: int, timeout: float = 20.0) -> None:
        await wait_until(lambda: update_id in self.done, timeout, f"the bot to finish update {update_id}")


class RecordingAssistant:
    """The real Assistant, remembering each user's last turn and the text it was given (the understanding
    behind a Telegram reply, which the chat itself does not show)."""

    def __init__(self, assistant: Any):
        self.inner = assistant
        self.turns: dict[str, Any] = {}
        self.texts: dict[str, list[str]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def handle(self, channel: str, user_id: str, text: str) -> Any:
        self.texts.setdefault(user_id, []).append(text)
        turn = await self.inner.handle(channel, user_id, text)
        self.turns[user_id] = turn
        return turn


@dataclass
class RunningBot:
    """The aiohttp app with the Telegram channel attached, serving on 127.0.0.1."""

    channel: Any
    tracker: UpdateTracker
    url: str
    runner: web.AppRunner


@asynccontextmanager
async def running_bot(
    assistant: Any, settings: Any, fake: FakeTelegram, webhook_secret: str | None = None
) -> AsyncIterator[RunningBot]:
    """The real app factory and `attach`, pointed at `fake`; webhook mode when a secret is given."""
    from bot.channels.telegram import TELEGRAM, WEBHOOK_PATH, attach
    from bot.web import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = dataclasses.replace(
        settings, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_webhook_url=url + WEBHOOK_PATH if webhook_secret is not None else "",
        telegram_webhook_secret=webhook_secret or "",
    )
    app = create_app(assistant)
    attach(app, assistant, settings)
    channel = app[TELEGRAM]
    tracker = UpdateTracker()
    tracker.install(channel.application)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await asyncio.wait_for(channel.started.wait(), 15)
        yield RunningBot(channel, tracker, url, runner)
    finally:
        await runner.cleanup()
