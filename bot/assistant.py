"""The Assistant: runs one user message through NLU and the flows, channel-neutral.

channel -> Assistant.handle -> NLU (or a button payload) -> flow engine -> actions
-> replies -> back to the channel, which renders them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, Callable, Protocol

from bot.outbox import take_for_visit
from bot.storage import Store
from bot.storage.models import Conversation, utcnow
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
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def understand(self, text: str) -> ParseResult:
        """A button payload as it says, typed text through the NLU model."""
        return parse_payload(text) or await self.nlu.parse(text[:MAX_NLU_CHARS])

    async def handle(self, channel: str, user_id: str, text: str) -> Turn:
        """Answers one message from `user_id` on `channel`."""
        text = (text or "").strip()
        if not text:
            return Turn(replies=self.engine.responses.render("empty_message"))
        user_key = f"{channel}:{user_id}"
        async with self._locks[user_key]:
            now = self.clock()
            with self.store.session() as session, session.begin():
                conversation = self.store.conversation_for(session, channel, user_id, now)
                conversation_id, state = conversation.id, dict(conversation.flow_state or {})
            # Typing (or a channel echoing) the title of a button just offered is pressing it.
            payload = (state.get(OFFERED) or {}).get(fold_words(text))
            parse = await self.understand(payload or text)
            return self._turn(user_key, conversation_id, state, parse, now)

    def _turn(self, user_key: str, conversation_id: int, state: dict[str, Any], parse: ParseResult, now: datetime) -> Turn:
        services = Services(
            knowledge=self.knowledge, desk=self.desk, dossiers=self.dossiers, user_key=user_key, contact=self.contact
        )
        # No transaction is open while the flows run: actions write through the desk in their own,
        # which an open SQLite write would block (and a slow dossier provider would hold up everyone).
        result = self.engine.handle(state, parse, services, now)
        offered = {fold_words(b.title): b.payload for r in result.replies for b in r.buttons}
        with self.store.session() as session, session.begin():
            # Notices that could not reach the person (web chat, a closed Zalo window) come with this answer.
            channel, _, user_id = user_key.partition(":")
            result.replies[:0] = take_for_visit(session, channel, user_id, now)
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:  # None: the user had their data deleted this turn; keep none of it
                conversation.flow_state = {**result.state, OFFERED: offered}
                conversation.updated_at = now
                self.store.add_message(session, conversation, "in", parse.text, parse.intent, parse.confidence, now)
                for reply in result.replies:
                    self.store.add_message(session, conversation, "out", reply.text, now=now)
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
