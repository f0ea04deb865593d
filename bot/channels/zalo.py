"""Zalo Official Account channel: signed webhook events in, Open API v3 consultation messages out.

POST /webhooks/zalo <- Zalo. The `X-ZEvent-Signature` header must be
"mac=" + sha256(app_id + raw body + timestamp + OA secret key) and the event's timestamp
(milliseconds, in the body) within five minutes of ours. A user message is stored
(channel_events, unique per sender and msg_id, so Zalo's retries are answered once) before
Zalo gets its 200, then answered by a background worker, in order per user. The reply's
messages are recorded (outbox_parts) before the first is sent and marked as each goes, so
a crash at any point is made good at the next start: a turn that never ran is run, parts
not sent are sent, each once (bot/channels/durable.py). A body that is not JSON, nests too
deep or is over 64 KiB, and a sender id that is not 1-64 plain characters, get a 400.
A `user_received_message` event (the delivery receipt of a ZNS notice) gets its 200 at once and
is stored in the background against the notice it confirms (bot/channels/zalo_sender.py).

Replies go out through POST {ZALO_API_BASE_URL}/v3.0/oa/message/cs: text in parts of at
most 2,000 characters, buttons as a template of at most five (`oa.query.show` sends the
button's payload back as the user's text, `oa.open.url` opens a link). Zalo answers
HTTP 200 with an error code in the body; the codes are handled by meaning:

    -216, -220  the access token is invalid or expired: refresh it once, send again
    -32         rate limited: pause all sending, retry a bounded number of times; still
                refused, the unsent parts wait for the sweep's next round (SEND_ROUNDS)
    HTTP 5xx, no answer (timeout): like -32; a send that got no answer is first looked
                up in the conversation (GET /v2.0/oa/conversation), so it is not sent twice
    -230, -232  the user has not written to us within Zalo's window: mark the user
                unreachable, fail the event, never retry
    others      logged with their context; the event is marked failed

The database unavailable when an event arrives: 503, so Zalo sends it again later.

Errors (one tree, each carrying the context a caller needs):

    ZaloError               an Open API or OAuth call failed (code, message, endpoint)
    ├── UndeliverableError  the user is outside the messaging window (-230, -232)
    └── TokenRefreshError   Zalo refused the refresh token: a new one is needed from the OA admin
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from bot.assistant import Assistant, Reply
from bot.channels.durable import Claim, EventInbox
from bot.channels.text import split_text as text_parts
from bot.privacy import mask
from bot.settings import Settings
from bot.storage import ChannelState, Store, User
from bot.storage.models import utcnow
from bot.web.payload import PayloadError, bad_request, log_safe, parse_json, read_body, user_id_problem

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/webhooks/zalo"
SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"
CONVERSATION_PATH = "/v2.0/oa/conversation"

# Zalo's documented limits for a consultation message and its buttons.
MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_QUERY_PAYLOAD = 1000

# An event signed further than this from our clock is a replay (or a badly wrong clock).
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
# Refresh the access token this long before Zalo says it expires.
TOKEN_MARGIN = timedelta(minutes=5)
# Pending events older than this are swept up (their process died before answering).
SWEEP_AGE = timedelta(minutes=2)
SWEEP_INTERVAL_S = 60.0
# Seconds to wait before each retry after -32 (rate limit); then the event fails.
RATE_LIMIT_BACKOFF_S = (1.0, 4.0, 15.0)
# An Open API call not answered within this long is given up (and tried again, see _post_message).
SEND_TIMEOUT_S = 15.0
# Rounds of sending an event's parts while Zalo stays busy (each round waits RATE_LIMIT_BACKOFF_S,
# rounds are SWEEP_INTERVAL_S apart); then its unsent parts are failed.
SEND_ROUNDS = 3
# Turns answered at the same time (outbound calls in flight).
CONCURRENT_TURNS = 4
# On shutdown, turns in progress get this long to finish.
SHUTDOWN_GRACE_S = 5.0

# How a send that got no answer (timeout, connection dropped) is told apart from a refusal.
_UNANSWERED = "no answer: "
TOKEN_ERRORS = frozenset({-216, -220})
RATE_LIMITED = -32
OUT_OF_WINDOW = frozenset({-230, -232})
# The delivery receipt of a message we sent (ZNS), see bot/channels/zalo_sender.py.
RECEIPT_EVENT = "user_received_message"


class ZaloError(Exception):
    """A Zalo Open API or OAuth call that failed, with its code and where it went."""

    def __init__(self, code: int | None, message: str, endpoint: str, user_id: str = ""):
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.user_id = user_id
        self.retryable = False  # Zalo was busy or unreachable: the message can go in a later round
        who = f" to user {user_id}" if user_id else ""
        super().__init__(mask(f"zalo {endpoint}{who}: error {code}: {message}"))


class UndeliverableError(ZaloError):
    """The user has not interacted with the OA within Zalo's window (-230, -232)."""


class TokenRefreshError(ZaloError):
    """Zalo refused the refresh token; set a new ZALO_REFRESH_TOKEN from the OA admin page."""


# --- webhook signature --------------------------------------------------------------------


def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The X-ZEvent-Signature Zalo sends with `body`: "mac=" + sha256(app_id + body + timestamp + key)."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return f"mac={digest}"


def signature_ok(header: str, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    expected = signature(app_id, body, timestamp, oa_secret_key)
    return hmac.compare_digest(header.strip().lower().encode(), expected.encode())


# --- rendering ----------------------------------------------------------------------------

def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at paragraphs, lines, sentences or words."""
    return text_parts(text, limit)


def _button_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1] + "…"


def render(reply: Reply, more_choices: str) -> list[dict[str, Any]]:
    """One reply as Zalo messages: text parts, then the buttons (five per message) under the last part.

    Checklist items become ☐/☑ lines; choices are `oa.query.show` buttons, links `oa.open.url`
    buttons. Zalo shows a query button's payload in the chat as the user's own message, so the
    payload is the button's title, not our internal `/intent{...}`: the Assistant reads a title
    of a button it just offered as that button's press. `more_choices` heads the messages
    that carry buttons beyond the first five.
    """
    text = reply.text
    if reply.checklist:
        text += "\n" + "\n".join(f"{'☑' if item.done else '☐'} {item.text}" for item in reply.checklist)
    buttons: list[dict[str, Any]] = []
    for button in reply.buttons:
        if len(button.title) > MAX_QUERY_PAYLOAD:
            log.error("zalo: button dropped, its title is %d characters (Zalo allows %d)",
                      len(button.title), MAX_QUERY_PAYLOAD)
            continue
        buttons.append({"title": _button_title(button.title), "type": "oa.query.show", "payload": button.title})
    for link in reply.links:
        if link.url.startswith(("https://", "http://")):
            buttons.append({"title": _button_title(link.title), "type": "oa.open.url", "payload": {"url": link.url}})
        else:
            text += f"\n{link.title}: {link.url}"
    parts = split_text(text) or [more_choices]
    messages: list[dict[str, Any]] = [{"text": part} for part in parts]
    if not buttons:
        return messages
    groups = [buttons[i:i + MAX_BUTTONS] for i in range(0, len(buttons), MAX_BUTTONS)]
    messages[-1] = _with_buttons(parts[-1], groups[0])
    messages += [_with_buttons(more_choices, group) for group in groups[1:]]
    return messages


def _with_buttons(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": text, "attachment": {"type": "template", "payload": {"buttons": buttons}}}


# --- durable state: the tokens ----------------------------------------------------------


def _sender(payload: dict[str, Any]) -> str:
    sender = payload.get("sender")
    return str(sender.get("id", "")) if isinstance(sender, dict) else ""


@dataclass
class Tokens:
    access_token: str
    expires_at: datetime | None
    refresh_token: str


class TokenStore:
    """The access and refresh tokens in channel_state; they win over the settings until those change.

    Zalo rotates the refresh token at every refresh and refuses a used one, so the newest
    pair must survive a restart. The settings' pair is remembered by a fingerprint: when an
    operator sets new tokens, those are used instead of the stored ones.
    """

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.fingerprint = hashlib.sha256(
            f"{settings.zalo_access_token}\n{settings.zalo_refresh_token}".encode()
        ).hexdigest()[:16]
        self.from_settings = Tokens(settings.zalo_access_token, None, settings.zalo_refresh_token)

    def load(self) -> tuple[Tokens, str]:
        """The tokens to start with and where they came from ("database" or "settings")."""
        state = self._read()
        if state.get("settings_fingerprint") == self.fingerprint and state.get("refresh_token"):
            expires = state.get("access_token_expires_at")
            return Tokens(
                state.get("access_token", ""), datetime.fromisoformat(expires) if expires else None, state["refresh_token"]
            ), "database"
        self.save(self.from_settings)
        return self.from_settings, "settings"

    def stored(self) -> Tokens | None:
        state = self._read()
        if state.get("settings_fingerprint") != self.fingerprint:
            return None
        expires = state.get("access_token_expires_at")
        return Tokens(state.get("access_token", ""), datetime.fromisoformat(expires) if expires else None,
                      state.get("refresh_token", ""))

    def save(self, tokens: Tokens) -> None:
        values = {
            "access_token": tokens.access_token,
            "access_token_expires_at": tokens.expires_at.isoformat() if tokens.expires_at else "",
            "refresh_token": tokens.refresh_token,
            "settings_fingerprint": self.fingerprint,
        }
        now = utcnow()
        # One statement per key that inserts or updates: workers starting together on a new database
        # each save the settings' tokens, and a read-then-insert let the second one fail to start.
        with self.store.session() as session, session.begin():
            insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            for key, value in values.items():
                statement = insert(ChannelState).values(channel=CHANNEL, key=key, value=value, updated_at=now)
                session.execute(statement.on_conflict_do_update(
                    index_elements=["channel", "key"],
                    set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))

    def _read(self) -> dict[str, str]:
        with self.store.session() as session:
            rows = session.execute(
                select(ChannelState.key, ChannelState.value).where(ChannelState.channel == CHANNEL)
            ).all()
        return {key: value for key, value in rows}


# --- the Open API client ------------------------------------------------------------------


class ZaloApi:
    """Sends consultation messages; keeps the access token fresh; handles Zalo's error codes."""

    def __init__(self, settings: Settings, tokens: TokenStore):
        self.settings = settings
        self.token_store = tokens
        self.tokens = tokens.from_settings
        self.backoff: Sequence[float] = RATE_LIMIT_BACKOFF_S
        self.http: aiohttp.ClientSession | None = None
        self._refresh_lock = asyncio.Lock()
        self._paused_until = 0.0  # monotonic time before which no message is sent (after -32)
        self.timeout_s = SEND_TIMEOUT_S

    async def open(self) -> str:
        self.tokens, source = self.token_store.load()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return source

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def send_all(self, user_id: str, messages: list[dict[str, Any]]) -> int:
        """Sends the messages in order; stops at the first that fails (raising). Answers how many went."""
        for message in messages:
            await self.send(user_id, message)
        return len(messages)

    async def send(self, user_id: str, message: dict[str, Any]) -> str:
        """Sends one message; answers Zalo's message id."""
        refreshed = False
        waits = list(self.backoff)
        while True:
            await self._wait_if_paused()
            token = await self._current_token()
            sent_at = utcnow()
            code, text, data, transient = await self._post_message(token, user_id, message)
            if code is None and transient and text.startswith(_UNANSWERED):
                # No answer: it may have arrived. Zalo's conversation says whether it did.
                arrived = await self.delivered_since(user_id, str(message.get("text", "")), sent_at)
                if arrived is not None:
                    return arrived
            if code == 0:
                return str((data or {}).get("message_id", ""))
            if code in TOKEN_ERRORS and not refreshed and self.tokens.refresh_token:
                log.info("zalo: access token refused (%s: %s); refreshing it", code, text)
                await self.refresh(failed_token=token)
                refreshed = True
                continue
            if (code == RATE_LIMITED or transient) and waits:
                delay = waits.pop(0)
                log.warning("zalo: %s (%s); pausing sends for %.1f s (%d retries left)",
                            "rate limited" if code == RATE_LIMITED else "Zalo unavailable", text, delay, len(waits))
                self._paused_until = max(self._paused_until, time.monotonic() + delay)
                continue
            if code in OUT_OF_WINDOW:
                raise UndeliverableError(code, text, SEND_PATH, user_id)
            error = ZaloError(code, text, SEND_PATH, user_id)
            error.retryable = code == RATE_LIMITED or transient
            raise error

    async def delivered_since(self, user_id: str, text: str, since: datetime) -> str | None:
        """Zalo's id of a message with this text sent to the user since `since`, from the last ten
        of the conversation (GET /v2.0/oa/conversation); None when not there or Zalo cannot say."""
        assert self.http is not None, "ZaloApi.open() first"
        query = {"data": json.dumps({"user_id": user_id, "offset": 0, "count": 10})}
        try:
            token = await self._current_token()
            async with self.http.get(self.settings.zalo_api_base_url + CONVERSATION_PATH, params=query,
                                     headers={"access_token": token}) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError, UnicodeDecodeError, ZaloError) as e:
            log.warning("zalo: could not read the conversation with %s (%s); the part is sent again", user_id, e)
            return None
        items = answer.get("data") if isinstance(answer, dict) and answer.get("error") == 0 else None
        since_ms = (since - timedelta(seconds=5)).replace(tzinfo=timezone.utc).timestamp() * 1000
        for item in items if isinstance(items, list) else []:
            if (isinstance(item, dict) and str(item.get("to_id")) == user_id and item.get("message") == text
                    and isinstance(item.get("time"), (int, float)) and item["time"] >= since_ms):
                return str(item.get("message_id") or "")
        return None

    async def _wait_if_paused(self) -> None:
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _current_token(self) -> str:
        tokens = self.tokens
        stale = not tokens.access_token or (tokens.expires_at is not None and tokens.expires_at - TOKEN_MARGIN <= utcnow())
        if stale and tokens.refresh_token:
            await self.refresh(failed_token=tokens.access_token)
        return self.tokens.access_token

    async def _post_message(
        self, token: str, user_id: str, message: dict[str, Any]
    ) -> tuple[int | None, str, Any, bool]:
        """(Zalo's error code, its message, its data, whether trying again later is safe)."""
        assert self.http is not None, "ZaloApi.open() first"
        url = self.settings.zalo_api_base_url + SEND_PATH
        body = {"recipient": {"user_id": user_id}, "message": message}
        try:
            async with self.http.post(url, json=body, headers={"access_token": token}) as response:
                if response.status >= 500 or response.status == 429:
                    return None, f"HTTP {response.status}", None, True
                try:
                    answer = await response.json(content_type=None)
                except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
                    return None, f"HTTP {response.status}, not JSON", None, False
        except aiohttp.ClientConnectorError as e:
            return None, f"cannot connect: {e.os_error}", None, True  # nothing reached Zalo
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            # The message may have arrived, or not. A citizen missing an answer is worse than seeing one
            # twice, so it is sent again (the same rule as a part in flight when the process died).
            return None, f"{_UNANSWERED}{type(e).__name__}: {e}", None, True
        if not isinstance(answer, dict):
            return None, "answer is not a JSON object", None, False
        try:
            code = int(answer.get("error", 0))
        except (TypeError, ValueError):
            return None, f"error code {answer.get('error')!r}", None, False
        return code, str(answer.get("message", "")), answer.get("data"), False

    async def refresh(self, failed_token: str) -> None:
        """New access and refresh tokens from Zalo OAuth, stored before use (the old refresh token is spent)."""
        async with self._refresh_lock:
            if self.tokens.access_token != failed_token:
                return  # another send refreshed it while this one waited
            stored = self.token_store.stored()
            if stored and stored.access_token != failed_token and stored.access_token and (
                stored.expires_at is None or stored.expires_at - TOKEN_MARGIN > utcnow()
            ):
                self.tokens = stored  # another process of ours refreshed it
                return
            if stored and stored.refresh_token:
                self.tokens = stored
            assert self.http is not None, "ZaloApi.open() first"
            url = self.settings.zalo_oauth_base_url + REFRESH_PATH
            form = {"app_id": self.settings.zalo_app_id, "grant_type": "refresh_token",
                    "refresh_token": self.tokens.refresh_token}
            try:
                async with self.http.post(url, data=form, headers={"secret_key": self.settings.zalo_app_secret}) as response:
                    answer = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ZaloError(None, f"{type(e).__name__}: {e}", REFRESH_PATH) from e
            if not isinstance(answer, dict) or not answer.get("access_token") or not answer.get("refresh_token"):
                answer = answer if isinstance(answer, dict) else {}
                reason = answer.get("error_description") or answer.get("error_reason") or answer.get("message") or answer
                error = TokenRefreshError(answer.get("error"), str(reason), REFRESH_PATH)
                log.error("%s; set a new ZALO_REFRESH_TOKEN from the OA admin page", error)
                raise error
            try:
                lifetime = timedelta(seconds=int(answer.get("expires_in", 0)))
            except (TypeError, ValueError):
                lifetime = timedelta()
            tokens = Tokens(str(answer["access_token"]), utcnow() + lifetime if lifetime else None,
                            str(answer["refresh_token"]))
            self.token_store.save(tokens)
            self.tokens = tokens
            log.info("zalo: access token refreshed (valid %s); the new refresh token is stored", lifetime or "?")


# --- the channel --------------------------------------------------------------------------


class ZaloChannel:
    """The webhook, the inbox and the workers that answer Zalo users through the Assistant."""

    def __init__(self, assistant: Assistant, settings: Settings):
        self.assistant = assistant
        self.settings = settings
        self.store: Store = assistant.store
        self.inbox = EventInbox(self.store, CHANNEL)
        self.api = ZaloApi(settings, TokenStore(self.store, settings))
        # False stores events without answering them; they are answered at the next start
        # (maintenance, and the tests' stand-in for a crash right after the store).
        self.process_events = True
        self.sweep_interval = SWEEP_INTERVAL_S
        self.sweep_age = SWEEP_AGE
        self.shutdown_grace = SHUTDOWN_GRACE_S
        self._queues: dict[str, deque[int]] = {}
        self._queued: set[int] = set()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(CONCURRENT_TURNS)
        self._receipts: set[asyncio.Task[None]] = set()
        self._closing = False

    # webhook -----------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Checks Zalo's signature, stores a user message and answers 200 at once; the reply comes later."""
        try:
            body = await read_body(request)
            event = parse_json(body)  # before the signature: a hostile body must not reach the parser's limits
        except PayloadError as e:
            log.warning("zalo webhook refused (400) from %s: %s", request.remote, e)
            return bad_request(e)
        header = request.headers.get("X-ZEvent-Signature", "")
        if not header:
            return self._refuse(request, 401, "missing X-ZEvent-Signature")
        if not isinstance(event, dict):
            return self._refuse(request, 400, "body is not a JSON object")
        timestamp = str(event.get("timestamp", ""))
        if not signature_ok(header, self.settings.zalo_app_id, body, timestamp, self.settings.zalo_oa_secret_key):
            return self._refuse(request, 401, "bad signature")
        try:
            skew = abs(time.time() * 1000 - int(timestamp))
        except ValueError:
            return self._refuse(request, 400, f"timestamp {log_safe(timestamp, 20)!r} is not milliseconds")
        if skew > MAX_CLOCK_SKEW_MS:
            return self._refuse(request, 403, f"timestamp {timestamp} is {skew / 1000:.0f} s away from our clock")
        name = str(event.get("event_name", ""))
        if name == RECEIPT_EVENT:
            self._receipt(event)
            return web.json_response({"status": "accepted"})
        if not name.startswith("user_send_"):
            log.debug("zalo: event %s ignored", log_safe(name))
            return web.json_response({"status": "ignored"})
        message = event.get("message")
        message = message if isinstance(message, dict) else {}
        msg_id, user_id = str(message.get("msg_id") or ""), _sender(event)
        if not msg_id or not user_id:
            log.warning("zalo: %s without msg_id or sender id ignored", log_safe(name))
            return web.json_response({"status": "ignored"})
        problem = user_id_problem(user_id) or user_id_problem(msg_id, max_length=128)
        if problem:
            log.warning("zalo webhook refused (400) from %s: sender %r / msg_id %r", request.remote,
                        log_safe(user_id), log_safe(msg_id))
            return bad_request(PayloadError("sender.id" if user_id_problem(user_id) else "message.msg_id", problem))
        try:
            row_id = await asyncio.to_thread(self.inbox.record, user_id, msg_id, event, utcnow())
        except SQLAlchemyError as e:  # not stored, so not accepted: Zalo sends it again later
            log.error("zalo: event %s not stored, the database is unavailable (%s); answered 503 so Zalo retries",
                      msg_id, type(e).__name__)
            return web.json_response({"error": "database unavailable, send again later"}, status=503)
        if row_id is None:
            log.info("zalo: event %s from %s already stored (Zalo retried); not answered twice", msg_id, user_id)
            return web.json_response({"status": "duplicate"})
        if self.process_events:
            self._dispatch(row_id, user_id)
        return web.json_response({"status": "accepted"})

    def _receipt(self, event: dict[str, Any]) -> None:
        """A delivery receipt (a ZNS message reached the phone): stored in the background, Zalo has its 200 now."""
        from bot.channels.zalo_sender import store_receipt

        task = asyncio.create_task(store_receipt(self.store, event), name="zalo-receipt")
        self._receipts.add(task)  # kept until done
        task.add_done_callback(self._receipts.discard)

    @staticmethod
    def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
        log.warning("zalo webhook refused (%d) from %s: %s", status, request.remote, reason)
        return web.json_response({"error": reason}, status=status)

    # workers -----------------------------------------------------------------------------

    def _dispatch(self, row_id: int, user_id: str) -> None:
        """Queues an event behind that user's earlier ones; users are answered side by side."""
        if row_id in self._queued or self._closing:
            return
        self._queued.add(row_id)
        self._queues.setdefault(user_id, deque()).append(row_id)
        if user_id not in self._workers:
            self._workers[user_id] = asyncio.create_task(self._work(user_id), name=f"zalo-user-{user_id}")

    async def _work(self, user_id: str) -> None:
        queue = self._queues[user_id]
        try:
            while queue and not self._closing:
                row_id = queue[0]
                try:
                    async with self._slots:
                        await self._process(row_id)
                except Exception:  # noqa: BLE001 - e.g. the database is down: the sweep retries it later
                    log.exception("zalo: event row %s could not be processed; left for the sweep", row_id)
                queue.popleft()
                self._queued.discard(row_id)
        finally:
            # No await between the loop's last check and here: a new event either saw this worker or sees none.
            del self._workers[user_id]
            if not queue:
                del self._queues[user_id]

    async def drain(self) -> None:
        """Waits until every queued event is answered."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def _process(self, row_id: int) -> None:
        # Each database step in a thread: a locked or unreachable database must not hold the event loop
        # (every other chat and webhook) for its lock timeout. (Shutdown's give-backs stay inline: they must run.)
        claim = await asyncio.to_thread(self.inbox.claim, row_id, utcnow())
        if claim is None:
            return  # answered already, or another worker has it
        started = time.monotonic()
        user_id = claim.sender or _sender(claim.payload)
        msg_id = str((claim.payload.get("message") or {}).get("msg_id", ""))
        status, error = "done", None
        if claim.phase == "turn":
            try:
                await asyncio.to_thread(self._mark_reachable, user_id)
                replies = await self._answer(claim.payload)
            except asyncio.CancelledError:
                self.inbox.release(row_id)  # shutdown before the turn ran: the next start runs it
                raise
            except Exception as e:  # noqa: BLE001 - one bad event must not stop the worker
                status, error = "failed", f"{type(e).__name__}: {e}"
                log.exception("zalo event %s failed", msg_id)
                replies = self.assistant.engine.responses.render("internal_error")  # never silence
            more = self.assistant.engine.responses.text("zalo_more_choices")
            await asyncio.to_thread(self.inbox.record_parts, claim, [m for reply in replies for m in render(reply, more)])
        status, error = await self._send_parts(claim, user_id, status, error)
        if status != "outbox":
            await asyncio.to_thread(self.inbox.finish, row_id, status, error, utcnow())
        log.info("zalo event %s from user %s %s in %.0f ms", msg_id, user_id, status, (time.monotonic() - started) * 1000)

    async def _send_parts(self, claim: Claim, user_id: str, status: str, error: str | None) -> tuple[str, str | None]:
        """Sends the recorded parts not yet sent, in order, each marked as it goes."""
        for part in await asyncio.to_thread(self.inbox.unsent_parts, claim.row_id):
            if part.resent:
                delivered = await self.api.delivered_since(user_id, str(part.message.get("text", "")), part.created_at)
                if delivered is not None:
                    await asyncio.to_thread(self.inbox.sent, part, delivered, utcnow())
                    log.info("zalo event row %s: part %d, in flight when its worker stopped, had arrived",
                             claim.row_id, part.seq)
                    continue
                log.warning("zalo event row %s: part %d was being sent when its worker stopped and is not in "
                            "the conversation; sent again", claim.row_id, part.seq)
            await asyncio.to_thread(self.inbox.sending, part, utcnow())
            try:
                provider_id = await self.api.send(user_id, part.message)
            except asyncio.CancelledError:
                self.inbox.requeue(claim.row_id)  # shutdown mid-send: the next start sends what is left
                raise
            except UndeliverableError as e:
                await asyncio.to_thread(self.inbox.fail_parts, claim.row_id, str(e))
                await asyncio.to_thread(self._mark_unreachable, user_id, e)
                log.warning("zalo event row %s: user %s is outside Zalo's window (%s); marked unreachable, "
                            "not retried", claim.row_id, user_id, e.code)
                return "failed", str(e)
            except ZaloError as e:
                if e.retryable and claim.attempts < SEND_ROUNDS:
                    await asyncio.to_thread(self.inbox.requeue, claim.row_id)  # the sweep sends the rest in a later round
                    log.warning("zalo event row %s: Zalo busy or unreachable (%s); the rest is sent in a later "
                                "round (%d of %d)", claim.row_id, e, claim.attempts, SEND_ROUNDS)
                    return "outbox", None
                await asyncio.to_thread(self.inbox.fail_parts, claim.row_id, str(e))
                log.error("zalo event row %s not answered: %s", claim.row_id, e)
                return "failed", str(e)
            await asyncio.to_thread(self.inbox.sent, part, provider_id, utcnow())
        return status, error

    async def _answer(self, event: dict[str, Any]) -> list[Reply]:
        """The Assistant's replies to a text; a short polite reply to photos, stickers, files and the like."""
        if event.get("event_name") == "user_send_text":
            text = str((event.get("message") or {}).get("text") or "")
            return (await self.assistant.handle(CHANNEL, _sender(event), text)).replies
        return self.assistant.engine.responses.render("zalo_not_text")

    def _mark_unreachable(self, user_id: str, error: ZaloError) -> None:
        reason = f"zalo {error.code}: no interaction within Zalo's window"[:64]
        with self.store.session() as session, session.begin():
            session.execute(
                update(User)
                .where(User.channel == CHANNEL, User.external_id == user_id)
                .values(unreachable_at=utcnow(), unreachable_reason=reason)
                .execution_options(synchronize_session=False)
            )

    def _mark_reachable(self, user_id: str) -> None:
        """A user who writes to us opens Zalo's window again."""
        with self.store.session() as session, session.begin():
            session.execute(
                update(User)
                .where(User.channel == CHANNEL, User.external_id == user_id, User.unreachable_at.is_not(None))
                .values(unreachable_at=None, unreachable_reason=None)
                .execution_options(synchronize_session=False)
            )

    # start and stop ----------------------------------------------------------------------

    def sweep(self, received_before: datetime | None = None, at_start: bool = False) -> int:
        """Recovers claims whose worker died and queues the events left to answer; answers how many were queued."""
        return self._queue_waiting(self._find_waiting(received_before, at_start))

    def _find_waiting(self, received_before: datetime | None, at_start: bool) -> list[tuple[int, str]]:
        """The database half of a sweep (blocking: the periodic sweep runs it in a thread)."""
        self.inbox.recover(utcnow(), at_start)
        return self.inbox.waiting(received_before) if self.process_events else []

    def _queue_waiting(self, waiting: list[tuple[int, str]]) -> int:
        pending = [(row_id, user_id) for row_id, user_id in waiting if row_id not in self._queued]
        for row_id, user_id in pending:
            self._dispatch(row_id, user_id)
        return len(pending)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                waiting = await asyncio.to_thread(self._find_waiting, utcnow() - self.sweep_age, False)
                self._queue_waiting(waiting)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sweeping
                log.exception("zalo: sweeping pending events failed")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """Opens the HTTP client, answers what a crash left pending, sweeps now and then; stops cleanly."""
        source = await self.api.open()
        recovered = self.sweep(at_start=True)
        log.info("Zalo OA on: webhook %s, tokens from the %s%s", WEBHOOK_PATH, source,
                 f", {recovered} event(s) left pending are being answered" if recovered else "")
        sweeper = asyncio.create_task(self._sweep_forever(), name="zalo-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        """Lets turns in progress finish (briefly); the rest stay pending for the next start."""
        self._closing = True
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=self.shutdown_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for task in self._receipts:  # a receipt still waiting for its message is looked for no more
            task.cancel()
        await asyncio.gather(*self._receipts, return_exceptions=True)
        await self.api.close()


ZALO = web.AppKey("zalo", ZaloChannel)


def attach(app: web.Application, assistant: Assistant, settings: Settings) -> None:
    """Adds POST /webhooks/zalo and the workers that answer Zalo users."""
    channel = ZaloChannel(assistant, settings)
    app[ZALO] = channel
    app.router.add_post(WEBHOOK_PATH, channel.webhook)
    app.cleanup_ctx.append(channel.lifecycle)
