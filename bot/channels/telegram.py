"""Telegram channel: updates in (long polling, or a webhook when a public URL is set), Assistant turns, replies out.

In:  text -> Assistant; /start /help /huy /xoadulieu -> the payload the Assistant knows; a pressed inline
     button -> its payload (payloads over Telegram's 64 bytes travel as a stored key); photos, stickers,
     voice, files, locations, contacts -> a polite line (flows/responses/channels.yml) saying what works.
Out: buttons -> inline keyboard, links -> URL buttons, checklist -> ☐/☑ lines, texts split under 4,096
     characters at paragraph, line or sentence ends (the keyboard goes under the last part).
     PTB's AIORateLimiter plus a per-chat throttle; RetryAfter honoured; a blocked bot (Forbidden) is
     recorded on the user row, not retried, and cleared when the person writes again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import re
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, AsyncIterator, Callable, Coroutine, Iterable

from aiohttp import web
from aiolimiter import AsyncLimiter
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from telegram import (
    BotCommand,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.assistant import Assistant
from bot.channels.durable import EventInbox
from bot.channels.telegram_outbox import DurableUpdateQueue, keyboard_of, part_of
from bot.channels.text import split_text as text_parts
from bot.privacy import mask
from bot.settings import Settings, SettingsError
from bot.storage import Store
from bot.storage.election import Election
from bot.storage.models import ChannelState, User, utcnow
from bot.web.payload import PayloadError, bad_request, read_json
from flows.replies import Reply, Turn
from flows.responses import ResponseBook

log = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096, counted in UTF-16 code units like Telegram's entity offsets
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
# Telegram command -> what the Assistant is given (button payloads it already understands).
COMMANDS = {"start": "/greet", "help": "/help", "huy": "/cancel", "xoadulieu": "/xoadulieu"}
# Callback data starting with this is a key of a stored payload, never a payload itself.
KEY_PREFIX = "#"
# Buttons with titles up to this many characters sit two to a row; longer ones get a row each.
SHORT_TITLE = 20
# Telegram asks bots to stay near one message per second per chat, allowing short bursts.
CHAT_BURST = 5
CHAT_PER_SECOND = 1.0
POLL_TIMEOUT = timedelta(seconds=30)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# What people send instead of words (named in the log line; all get the same polite reply).
NOT_TEXT_KINDS = (
    "photo", "sticker", "voice", "audio", "video", "video_note", "animation", "document", "location", "venue",
    "contact", "poll", "dice",
)
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token


class ChatThrottledRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (overall and group limits, RetryAfter waits and retries) plus a per-chat bucket.

    Each private chat gets a leaky bucket of `burst` messages refilled at `per_second`, so a long
    answer in one chat waits for itself without holding back the other chats.
    """

    MAX_IDLE_BUCKETS = 1024

    def __init__(self, burst: int = CHAT_BURST, per_second: float = CHAT_PER_SECOND, max_retries: int = 3):
        super().__init__(max_retries=max_retries)
        self.burst = burst
        self.per_second = per_second
        self._buckets: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _bucket(self, chat_id: int) -> AsyncLimiter:
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = AsyncLimiter(self.burst, self.burst / self.per_second)
            for old_id, old in list(self._buckets.items())[: max(0, len(self._buckets) - self.MAX_IDLE_BUCKETS)]:
                if old.has_capacity(self.burst):  # full again: forgetting it changes nothing
                    del self._buckets[old_id]
        self._buckets.move_to_end(chat_id)
        return bucket

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        try:
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = 0
        if chat_id <= 0:  # no chat (answerCallbackQuery, getUpdates) or a group, which PTB limits itself
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self._bucket(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def _chat_id_of(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Updates from different chats run at the same time; one chat's updates run one after another, in order."""

    def __init__(self, max_concurrent_updates: int = 64, on_done: Callable[[object], None] | None = None):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self.on_done = on_done  # told when an update's handlers have ended (the stored update is settled)

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        chat_id = _chat_id_of(update)
        if chat_id is None:
            await coroutine
            self._done(update)
            return
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._users[chat_id] = self._users.get(chat_id, 0) + 1
        try:
            async with lock:
                await coroutine
                self._done(update)
        finally:
            self._users[chat_id] -= 1
            if not self._users[chat_id]:
                del self._users[chat_id], self._locks[chat_id]

    def _done(self, update: object) -> None:
        if self.on_done is not None:
            try:
                self.on_done(update)
            except Exception:  # noqa: BLE001 - e.g. the database is down: the next start settles it
                log.exception("telegram: could not settle update %s", getattr(update, "update_id", "-"))

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class ButtonPayloads:
    """Callback data for button payloads: the payload itself when it fits Telegram's 64 bytes, else a short key.

    A key is a hash of the payload, so the same payload always gets the same key; the payload behind it
    is kept in a bounded in-memory LRU and in the channel_state table, so buttons sent before a restart
    still work after it.
    """

    def __init__(self, store: Store, capacity: int = 4096):
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def _row_key(key: str) -> str:
        return "button:" + key[len(KEY_PREFIX):]

    def data_for(self, payload: str) -> str:
        """The callback data to put on a button whose press should send `payload`."""
        raw = payload.encode("utf-8")
        if 0 < len(raw) <= MAX_CALLBACK_DATA and not payload.startswith(KEY_PREFIX):
            return payload
        key = KEY_PREFIX + base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:15]).decode("ascii")
        if key not in self._cache:
            self._persist(key, payload)
        self._remember(key, payload)
        return key

    def payload_for(self, data: str) -> str | None:
        """The payload a pressed button stands for; None when its key is unknown (the store was emptied)."""
        if not data.startswith(KEY_PREFIX):
            return data
        payload = self._cache.get(data)
        if payload is None:
            with self.store.session() as session:
                row = session.get(ChannelState, (CHANNEL, self._row_key(data)))
                payload = row.value if row is not None else None
            if payload is None:
                return None
        self._remember(data, payload)
        return payload

    def _remember(self, key: str, payload: str) -> None:
        self._cache[key] = payload
        self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def _persist(self, key: str, payload: str) -> None:
        try:
            with self.store.session() as session, session.begin():
                if session.get(ChannelState, (CHANNEL, self._row_key(key))) is None:
                    session.add(ChannelState(channel=CHANNEL, key=self._row_key(key), value=payload, updated_at=utcnow()))
        except IntegrityError:
            pass  # another process stored the same key at the same moment: same hash, same payload


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Outgoing:
    """One Telegram message to send: plain text (no parse_mode) and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at paragraph, line or sentence ends when possible."""
    return text_parts(text, limit, utf16=True)


def _is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def keyboard_for(reply: Reply, payloads: ButtonPayloads) -> InlineKeyboardMarkup | None:
    """Buttons as callback buttons (short titles two to a row), then each web link as a URL button."""
    rows: list[list[InlineKeyboardButton]] = []
    waiting: InlineKeyboardButton | None = None
    for button in reply.buttons:
        title = button.title.strip() or button.payload
        key = InlineKeyboardButton(title, callback_data=payloads.data_for(button.payload))
        if len(title) > SHORT_TITLE:
            if waiting is not None:
                rows.append([waiting])
                waiting = None
            rows.append([key])
        elif waiting is not None:
            rows.append([waiting, key])
            waiting = None
        else:
            waiting = key
    if waiting is not None:
        rows.append([waiting])
    for link in reply.links:
        if _is_web_url(link.url):
            rows.append([InlineKeyboardButton(link.title.strip() or link.url, url=link.url)])
    return InlineKeyboardMarkup(rows) if rows else None


def render_reply(reply: Reply, payloads: ButtonPayloads, responses: ResponseBook) -> list[Outgoing]:
    """One channel-neutral reply as Telegram messages; the keyboard goes under the last part."""
    text = reply.text
    if reply.checklist:
        text += "\n\n" + "\n".join(("☑ " if item.done else "☐ ") + item.text for item in reply.checklist)
    other_links = [f"{link.title}: {link.url}" for link in reply.links if not _is_web_url(link.url)]
    if other_links:
        text += "\n\n" + "\n".join(other_links)
    keyboard = keyboard_for(reply, payloads)
    parts = split_text(text)
    if not parts:
        if keyboard is None:
            return []
        parts = [responses.text("telegram_choose")]
    return [Outgoing(part) for part in parts[:-1]] + [Outgoing(parts[-1], keyboard)]


# ---------------------------------------------------------------- the channel


class TelegramChannel:
    """The Telegram bot of one Assistant: a python-telegram-bot Application run inside the aiohttp app."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings,
        *,
        chat_burst: int | None = None,
        chat_per_second: float | None = None,
        poll_timeout: timedelta = POLL_TIMEOUT,
    ):
        self.webhook_url = settings.telegram_webhook_url
        self.webhook_secret = settings.telegram_webhook_secret
        if self.webhook_url and not _SECRET.fullmatch(self.webhook_secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET: needed when TELEGRAM_WEBHOOK_URL is set, 1 to 256 characters "
                "from A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)"
            )
        self.assistant = assistant
        self.store: Store = assistant.store
        self.responses: ResponseBook = assistant.engine.responses
        self.payloads = ButtonPayloads(self.store)
        self.poll_timeout = poll_timeout
        self.inbox = EventInbox(self.store, CHANNEL)
        self.queue = DurableUpdateQueue(self.inbox)
        self._recovered = False
        self._resends: set[asyncio.Task[None]] = set()
        builder = (
            Application.builder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_base_url)
            .rate_limiter(ChatThrottledRateLimiter(chat_burst or CHAT_BURST, chat_per_second or CHAT_PER_SECOND))
            .concurrent_updates(ChatOrderedUpdateProcessor(on_done=self._settle))
            .update_queue(self.queue)
        )
        if self.webhook_url:
            builder = builder.updater(None)
        self.application: Application = builder.build()
        self.started = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None
        self.election: Election | None = None
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        self.application.add_handlers([
            CommandHandler(list(COMMANDS), self.on_command, filters=private),
            MessageHandler(private & filters.TEXT, self.on_text),
            MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_not_text),
            CallbackQueryHandler(self.on_button),
            ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER),
        ])
        self.application.add_error_handler(self.on_error)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "long polling"

    # -- life cycle

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup_ctx: starts the bot in the background (the web chat need not wait), stops it at exit."""
        self._starter = asyncio.create_task(self._start_with_retries(), name="telegram-start")
        yield
        await self.stop()

    async def _start_with_retries(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.start()
                return
            except InvalidToken:
                log.error("Telegram refused TELEGRAM_BOT_TOKEN; the Telegram channel stays off (get a token from @BotFather).")
                return
            except BadRequest as e:
                log.error("Telegram refused to set up the %s channel (%s); it stays off.", self.mode, e.message)
                return
            except (NetworkError, RetryAfter) as e:
                log.warning("Telegram not reachable yet (%s); trying again in %.0f s.", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
            except Exception:  # a bug must not pass silently in a background task
                log.exception("The Telegram channel could not start; it stays off.")
                return

    async def start(self) -> None:
        """Connects (getMe), sets the webhook or starts long polling, lists the commands, starts handling."""
        app = self.application
        await app.initialize()
        self._recover()
        if self.webhook_url:
            await app.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES)
        elif app.updater is not None and self.election is None:
            # Several workers: only the one elected through the database polls (Telegram allows one poller).
            self.election = Election(self.store, "telegram_polling")
            self.election.start(self._start_polling, self._stop_polling)
        await self._set_commands()
        if not app.running:
            await app.start()
        self.started.set()
        log.info("Telegram channel on (%s) as @%s", self.mode, app.bot.username)

    async def _start_polling(self) -> None:
        updater = self.application.updater
        if updater is not None and not updater.running:
            await updater.start_polling(
                timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3,
                error_callback=self._polling_error,
            )

    async def _stop_polling(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()

    async def stop(self) -> None:
        """Stops polling, finishes the updates already taken, closes the HTTP client. The webhook stays set."""
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if self.election is not None:
            await self.election.stop()
            self.election = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        self.started.clear()

    async def _set_commands(self) -> None:
        commands = [BotCommand(name, self.responses.text(f"telegram_command_{name}")) for name in COMMANDS]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as e:  # the menu of commands is a nicety; the bot works without it
            log.warning("Telegram: could not set the command list: %s", e)

    @staticmethod
    def _polling_error(error: TelegramError) -> None:
        log.warning("Telegram polling: %s (retrying)", mask(str(error)))

    # -- webhook

    async def webhook(self, request: web.Request) -> web.Response:
        """Takes one update Telegram posts, once the secret it was given at setWebhook checks out."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), self.webhook_secret.encode("utf-8")):
            log.warning("Telegram webhook: wrong or missing %s from %s", SECRET_HEADER, request.remote)
            return web.json_response({"error": "wrong secret token"}, status=403)
        if not self.started.is_set():
            return web.json_response({"error": "starting, try again"}, status=503)  # Telegram retries later
        try:
            data = await read_json(request)  # bounded: size, nesting, lone surrogates
        except PayloadError as e:
            log.warning("Telegram webhook: refused (400) from %s: %s", request.remote, e)
            return bad_request(e)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.json_response({"error": "not a Telegram update (no update_id)"}, status=400)
        try:
            update = Update.de_json(data, self.application.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            log.warning("Telegram webhook: update %s could not be read: %s", data.get("update_id"), e)
            return web.json_response({"error": "not a Telegram update"}, status=400)
        try:
            await self.application.update_queue.put(update)  # stored before Telegram hears 200
        except SQLAlchemyError as e:
            log.error("Telegram webhook: update %s not stored, the database is unavailable (%s); Telegram retries",
                      data.get("update_id"), type(e).__name__)
            return web.json_response({"error": "database unavailable, send again later"}, status=503)
        return web.Response(status=200)

    # -- handlers (each runs inside the chat's turn: one at a time per chat)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs /start, /help, /huy or /xoadulieu as the payload the Assistant knows, and sends its replies."""
        assert update.message is not None and update.message.text is not None
        command = update.message.text.split()[0][1:].split("@")[0].lower()
        await self.converse(update.message.chat_id, COMMANDS[command], update)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answers a typed message with the Assistant's turn."""
        assert update.message is not None and update.message.text is not None
        await self.converse(update.message.chat_id, update.message.text, update)

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Says politely that only words and buttons are understood, when a photo, sticker, file... arrives."""
        assert update.message is not None
        chat_id = update.message.chat_id
        self.mark_reachable(chat_id)
        kind = next((k for k in NOT_TEXT_KINDS if getattr(update.message, k, None)), "other message")
        log.info("telegram chat=%s sent a %s; answered that only text is read", chat_id, kind)
        await self.send_replies(chat_id, self.responses.render("telegram_not_text"))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answers the press at once, runs the button's payload as a turn, then marks the choice on the keyboard."""
        query = update.callback_query
        assert query is not None
        with contextlib.suppress(TelegramError):  # too late to answer: the press still counts
            await query.answer()
        chat_id = update.effective_chat.id if update.effective_chat is not None else query.from_user.id
        payload = self.payloads.payload_for(query.data or "")
        if payload is None:
            self.mark_reachable(chat_id)
            log.info("telegram chat=%s pressed a button whose payload is no longer known", chat_id)
            await self.send_replies(chat_id, self.responses.render("telegram_button_expired"))
            return
        if await self.converse(chat_id, payload, update):
            await self._mark_choice(query.message, query.data or "")

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Records that the person blocked the bot (or unblocked it), as Telegram tells us."""
        change = update.my_chat_member
        if change is None or change.chat.type != "private":
            return
        if change.new_chat_member.status == ChatMember.BANNED:  # "kicked": the person blocked the bot
            self.mark_unreachable(change.chat.id, "blocked the bot")
        elif change.new_chat_member.status == ChatMember.MEMBER:
            self.mark_reachable(change.chat.id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Logs the failure (masked) and tells the person something went wrong, instead of staying silent."""
        error = context.error
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)) if error else "-"
        update_id = update.update_id if isinstance(update, Update) else "-"
        log.error("telegram update %s failed: %s", update_id, mask(trace))
        chat_id = _chat_id_of(update)
        if chat_id is not None and chat_id > 0 and not isinstance(error, Forbidden):
            with contextlib.suppress(Exception):
                await self.send_replies(chat_id, self.responses.render("internal_error"))

    # -- turns

    async def converse(self, chat_id: int, text: str, update: Update | None = None) -> bool:
        """One Assistant turn for the chat, sent back; False when nothing could be delivered.

        For a stored update the turn is claimed (run once, by one worker) and its messages are
        recorded before the first is sent, so a crash at any point is made good at the next start.
        """
        # The database in a thread, as Zalo's worker does: a locked database never holds the event loop.
        await asyncio.to_thread(self.mark_reachable, chat_id)
        log.debug("telegram chat=%s says: %s", chat_id, mask(text))
        row = self.queue.rows.get(update.update_id) if update is not None else None
        claim = await asyncio.to_thread(self.inbox.claim, row, utcnow()) if row is not None else None
        if row is not None and claim is None:
            return True  # handled already (a restart re-queued it), or another worker has it
        turn = await self.assistant.handle(CHANNEL, str(chat_id), text)
        if claim is None:
            return await self.send_turn(chat_id, turn)
        messages = [m for reply in turn.replies for m in render_reply(reply, self.payloads, self.responses)]
        await asyncio.to_thread(self.inbox.record_parts, claim, [part_of(m.text, m.keyboard) for m in messages])
        return await self.send_parts(claim.row_id, chat_id)

    async def send_parts(self, row_id: int, chat_id: int) -> bool:
        """Sends a stored update's recorded messages not yet sent, in order, each marked as it goes."""
        for part in await asyncio.to_thread(self.inbox.unsent_parts, row_id):
            if part.resent:  # Telegram cannot be asked whether it arrived: sent again rather than lost
                log.warning("telegram chat=%s: a message in flight when the process stopped is sent again", chat_id)
            await asyncio.to_thread(self.inbox.sending, part, utcnow())
            message = Outgoing(str(part.message.get("text", "")), keyboard_of(part.message, self.application.bot))
            if not await self._send(chat_id, message):
                await asyncio.to_thread(self.inbox.fail_parts, row_id, "not delivered (see the log)")
                await asyncio.to_thread(self.inbox.finish, row_id, "failed", "a message was not delivered (see the log)",
                                        utcnow())
                return False
            await asyncio.to_thread(self.inbox.sent, part, "", utcnow())
        await asyncio.to_thread(self.inbox.finish, row_id, "done", None, utcnow())
        return True

    def _settle(self, update: object) -> None:
        """An update's handlers have ended: its stored event is finished (turns finish their own)."""
        row = self.queue.rows.pop(update.update_id, None) if isinstance(update, Update) else None
        if row is not None:
            self.inbox.settle(row)

    def _recover(self) -> None:
        """At the first start: updates stored but not handled are queued again, unsent messages sent."""
        if self._recovered:
            return
        self._recovered = True
        recovered = self.inbox.recover(utcnow(), at_start=True)
        waiting = self.inbox.waiting()
        for row_id, sender in waiting:
            status, payload = self.inbox.stored(row_id)
            if status == "pending":
                self.queue.requeue(self.application.bot, row_id, payload)
            else:
                task = asyncio.create_task(self._resend(row_id, int(sender)), name=f"telegram-resend-{row_id}")
                self._resends.add(task)
                task.add_done_callback(self._resends.discard)
        if waiting or recovered:
            log.info("telegram: %d update(s) a stop left unanswered are being answered", len(waiting))

    async def _resend(self, row_id: int, chat_id: int) -> None:
        if self.inbox.claim(row_id, utcnow()) is not None:
            await self.send_parts(row_id, chat_id)

    async def send_turn(self, chat_id: int, turn: Turn) -> bool:
        return await self.send_replies(chat_id, turn.replies)

    async def send_replies(self, chat_id: int, replies: Iterable[Reply]) -> bool:
        """Sends the replies in order; stops at the first message that cannot be delivered."""
        for reply in replies:
            for message in render_reply(reply, self.payloads, self.responses):
                if not await self._send(chat_id, message):
                    return False
        return True

    async def _send(self, chat_id: int, message: Outgoing) -> bool:
        keyboard = message.keyboard
        for attempt in range(3):
            try:
                await self.application.bot.send_message(
                    chat_id, message.text, reply_markup=keyboard, link_preview_options=NO_PREVIEW
                )
                return True
            except Forbidden as e:
                self.mark_unreachable(chat_id, e.message)
                log.info("telegram chat=%s cannot be written to (%s); not retried", chat_id, e.message)
                return False
            except RetryAfter as e:  # the rate limiter already waited and retried
                log.warning("telegram chat=%s: still rate limited after retries (%s); message dropped", chat_id, e)
                return False
            except BadRequest as e:
                log.error("telegram chat=%s: Telegram refused a message (%s): %s", chat_id, e.message, mask(message.text[:200]))
                if keyboard is None:
                    return False
                keyboard = None  # the words matter most: try once more without the keyboard
            except TimedOut:
                log.warning("telegram chat=%s: sending timed out; not resent, it may have arrived", chat_id)
                return False
            except NetworkError as e:
                log.warning("telegram chat=%s: network error (%s), attempt %d", chat_id, e, attempt + 1)
                await asyncio.sleep(attempt + 1)
        return False

    async def _mark_choice(self, message: object, data: str) -> None:
        """Leaves only the pressed button (ticked) and the links under the message, so the chat shows the choice."""
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        keyboard = message.reply_markup.inline_keyboard
        if sum(1 for row in keyboard for b in row if b.callback_data is not None) < 2:
            return  # nothing was chosen among
        rows = []
        for row in keyboard:
            kept = [
                InlineKeyboardButton(self.responses.text("telegram_chosen", title=b.text), callback_data=b.callback_data)
                if b.callback_data == data else b
                for b in row if b.url or b.callback_data == data
            ]
            if kept:
                rows.append(kept)
        try:
            await self.application.bot.edit_message_reply_markup(
                chat_id=message.chat_id, message_id=message.message_id, reply_markup=InlineKeyboardMarkup(rows)
            )
        except Forbidden as e:
            self.mark_unreachable(message.chat_id, e.message)
        except TelegramError as e:  # an old message can no longer be edited: the answer was sent anyway
            log.debug("telegram chat=%s: keyboard not updated: %s", message.chat_id, e)

    # -- reachability on the user row

    def mark_unreachable(self, chat_id: int, reason: str) -> None:
        with self.store.session() as session, session.begin():
            session.execute(
                sql_update(User)
                .where(User.channel == CHANNEL, User.external_id == str(chat_id))
                .values(unreachable_at=utcnow(), unreachable_reason=reason[:64])
            )

    def mark_reachable(self, chat_id: int) -> None:
        with self.store.session() as session, session.begin():
            session.execute(
                sql_update(User)
                .where(User.channel == CHANNEL, User.external_id == str(chat_id), User.unreachable_at.is_not(None))
                .values(unreachable_at=None, unreachable_reason=None)
            )


TELEGRAM = web.AppKey("telegram", TelegramChannel)


def attach(app: web.Application, assistant: Assistant, settings: Settings) -> None:
    """Adds Telegram to the app: the webhook route in webhook mode, and the bot's start and stop."""
    channel = TelegramChannel(assistant, settings)
    app[TELEGRAM] = channel
    if channel.webhook_url:
        app.router.add_post(WEBHOOK_PATH, channel.webhook)
    app.cleanup_ctx.append(channel.lifecycle)
    # httpx logs every request line, and Telegram's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
