"""The Assistant: runs one user message through NLU and the flows, channel-neutral.

channel -> Assistant.handle -> NLU (or a button payload) -> flow engine -> actions
-> replies -> back to the channel, which renders them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Protocol

from bot.outbox import take_for_visit
from bot.storage import Store
from bot.storage.db import ConversationLock
from bot.storage.models import utcnow
from flows.engine import FlowEngine
from flows.replies import Reply, Turn
from flows.services import Desk, Services
from knowledge import fold_words
from nlu.result import ParseResult, parse_payload

log = logging.getLogger(__name__)

# Longer messages are cut before understanding (they are stored whole).
MAX_NLU_CHARS = 1000
# Where the conversation keeps the buttons of the last turn (title key -> payload), beside the flow state.
OFFERED = "offered"


class Understanding(Protocol):
    async def parse(self, text: str) -> ParseResult: ...


class Assistant:
    """One turn at a time per user; flow state and messages are stored each turn."""

    def __init__(
        self,
        nlu: Understanding,
        engine: FlowEngine,
        store: Store,
        knowledge: Any,
        desk: Desk | None = None,
        dossiers: Any = None,
        contact: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.nlu = nlu
        self.engine = engine
        self.store = store
        self.knowledge = knowledge
        self.desk = desk
        self.dossiers = dossiers
        self.contact = contact or {}
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self.handover: Any = None  # bot.handover.Handover, set by the runtime

    async def understand(self, text: str) -> ParseResult:
        """A button payload as it says, typed text through the NLU model."""
        return parse_payload(text) or await self.nlu.parse(text[:MAX_NLU_CHARS])

    @asynccontextmanager
    async def _process_lock(self, user_key: str) -> AsyncIterator[None]:
        """This process's turn of the person: their messages queue here one behind the other, so a person
        sending many at once holds one database connection, not one per message. Forgotten when idle."""
        lock = self._locks.setdefault(user_key, asyncio.Lock())
        self._waiting[user_key] = self._waiting.get(user_key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[user_key] -= 1
            if not self._waiting[user_key]:
                del self._waiting[user_key], self._locks[user_key]

    async def handle(self, channel: str, user_id: str, text: str) -> Turn:
        """Answers one message from `user_id` on `channel`."""
        text = (text or "").strip()
        if not text:
            return Turn(replies=self.engine.responses.render("empty_message"))
        user_key = f"{channel}:{user_id}"
        # One turn per person at a time, in order: this process's lock, and on PostgreSQL a database lock
        # that every worker honours (SQLite serves one worker).
        async with self._process_lock(user_key), self.store.conversation_lock(channel, user_id) as held:
            now = self.clock()
            conversation_id, state = held.read(now)
            # While a person at the desk has the conversation, the assistant stays quiet (bot/handover.py).
            quiet = self.handover.hold(channel, user_id, text, now) if self.handover is not None else None
            if quiet is not None:
                return Turn(replies=self.engine.responses.render(quiet) if quiet else [])
            # Typing (or a channel echoing) the title of a button just offered is pressing it.
            payload = (state.get(OFFERED) or {}).get(fold_words(text))
            parse = await self.understand(payload or text)
            return self._turn(held, user_key, conversation_id, state, parse, now)

    def _turn(
        self, held: ConversationLock, user_key: str, conversation_id: int, state: dict[str, Any], parse: ParseResult,
        now: datetime,
    ) -> Turn:
        services = Services(
            knowledge=self.knowledge, desk=self.desk, dossiers=self.dossiers, user_key=user_key, contact=self.contact
        )
        # The turn holds no row lock while the flows run: actions write through the desk in their own
        # transactions, which an open write would block (see ConversationLock).
        result = self.engine.handle(state, parse, services, now)
        offered = {fold_words(b.title): b.payload for r in result.replies for b in r.buttons}
        # Notices that could not reach the person (web chat, a closed Zalo window) come with this answer.
        channel, _, user_id = user_key.partition(":")
        with self.store.session() as session, session.begin():
            result.replies[:0] = take_for_visit(session, channel, user_id, now)
        # The procedure the conversation is about after this message: the desk's "top procedures asked".
        asked = (result.state.get("slots") or {}).get("procedure_code")
        # Nothing stored when the person had their data deleted this turn.
        held.save(conversation_id, {**result.state, OFFERED: offered}, now, [
            ("in", parse.text, parse.intent, parse.confidence, asked if isinstance(asked, str) else None),
            *(("out", reply.text, None, None, None) for reply in result.replies),
        ])
        log.info(
            "turn user=%s intent=%s conf=%.2f flows=%s->%s",
            user_key, parse.intent, parse.confidence, ",".join(result.started) or "-", result.flow or "-",
        )
        return Turn(
            replies=list(result.replies),
            intent=parse.intent,
            confidence=parse.confidence,
            flow=result.flow,
            procedures=[{"code": p.code, "name": p.name, "score": round(p.score, 4)} for p in parse.procedures],
            started=list(result.started),
            completed=list(result.completed),
            slots=dict(result.state.get("slots", {})),
        )



__all__ = ["Assistant", "Reply", "Turn"]
