"""The Assistant: runs one user message through NLU and the flows, channel-neutral.

channel -> Assistant.handle -> NLU (or a button payload) -> flow engine -> actions
-> replies -> back to the channel, which renders them.

`handle` runs on the event loop and only waits: the turn itself (`run_turn`: understanding,
the flows, the database) runs in a worker thread (bot/turns.py), one at a time per user and in
order, within a time budget. Past the budget the user is told politely to wait; the turn still
finishes and is saved once, and its replies come first in the user's next answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from datetime import datetime
from typing import Any, Callable, Protocol

from bot.outbox import replies_from_json, replies_to_json, take_for_visit
from bot.storage import Store
from bot.storage.models import utcnow
from bot.storage.turn_lock import ARRIVAL_RETRY, ConversationLock, EarlierMessageWaiting
from bot.turns import TurnPool, TurnTicket, UserTurns
from flows.engine import EngineResult, FlowEngine
from flows.replies import Reply, Turn
from flows.services import Desk, Services
from knowledge import fold_words
from nlu.result import ParseResult, parse_payload

log = logging.getLogger(__name__)

# Longer messages are cut before understanding (they are stored whole).
MAX_NLU_CHARS = 1000
# Where the conversation keeps the buttons of the last turn (title key -> payload), beside the flow state.
OFFERED = "offered"
# Where it keeps the replies of a turn that outran its budget, for the user's next answer.
LATE_REPLIES = "late_replies"
# The payload of the over-budget reply's button: show what the late turn answered.
SHOW_LATE_INTENT = "late_replies"
TURN_WORKERS = 4
TURN_BUDGET_SECONDS = 8.0
# What no database stores as text: lone UTF-16 surrogates (a JSON body's "\ud800") and NUL (PostgreSQL).
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
# Responses the Assistant says itself (flows/responses/common.yml); checked when it is built.
RESPONSES = ("empty_message", "turn_over_budget", "late_replies_intro", "late_replies_none")


class Understanding(Protocol):
    def parse_sync(self, text: str) -> ParseResult:
        """Understands one message; called in a turn's worker thread, never on the event loop."""
        ...


class Assistant:
    """One turn at a time per user, off the event loop; flow state and messages are stored each turn."""

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
        turn_workers: int = TURN_WORKERS,
        turn_budget: float = TURN_BUDGET_SECONDS,
    ):
        missing = [key for key in RESPONSES if key not in engine.responses]
        if missing:
            raise ValueError(f"flows/responses/: the Assistant's response(s) {missing} are missing")
        self.nlu = nlu
        self.engine = engine
        self.store = store
        self.knowledge = knowledge
        self.desk = desk
        self.dossiers = dossiers
        self.contact = contact or {}
        self.clock = clock
        self.turn_workers = turn_workers
        self.turn_budget = turn_budget
        self.user_turns = UserTurns()
        self._pool: TurnPool | None = None  # started with the first turn
        self._arrivals: TurnPool | None = None  # registers messages as they come, in order (PostgreSQL)
        self._late: set[asyncio.Task[Turn]] = set()
        self.handover: Any = None  # bot.handover.Handover, set by the runtime

    def understand(self, text: str) -> ParseResult:
        """A button payload as it says, typed text through the NLU model (in the turn's worker thread)."""
        return parse_payload(text) or self.nlu.parse_sync(text[:MAX_NLU_CHARS])

    async def handle(self, channel: str, user_id: str, text: str) -> Turn:
        """Answers one message from `user_id` on `channel`, within the turn budget."""
        # Kept, not dropped: the rest of the message is still understood and stored.
        text = _UNSTORABLE.sub("\ufffd", (text or "")).strip()
        if not text:
            return Turn(replies=self.engine.responses.render("empty_message"))
        ticket = TurnTicket()
        # Registered the moment it comes, one at a time in the order they come (bot/storage/turn_lock.py):
        # the person's turns run in that order whichever worker has each (PostgreSQL; SQLite has one worker).
        arrival = self._arrival_pool().submit(self.store.arrive, channel, user_id) if self.store.locking else None
        job = asyncio.ensure_future(self._in_order(channel, user_id, text, ticket, arrival))
        try:
            return await asyncio.wait_for(asyncio.shield(job), self.turn_budget)
        except asyncio.TimeoutError:
            if not ticket.give_up():  # done and being saved this very moment: its replies are ours
                return await asyncio.shield(job)
            log.warning("turn over budget (%.1f s) user=%s:%s; its replies come with the next answer",
                        self.turn_budget, channel, user_id)
            self._keep(job)
            return Turn(replies=self.engine.responses.render("turn_over_budget"))
        except asyncio.CancelledError:  # the caller went away (a closed connection): keep the replies for later
            ticket.give_up()
            self._keep(job)
            raise

    async def _in_order(self, channel: str, user_id: str, text: str, ticket: TurnTicket,
                        arrival: concurrent.futures.Future[int | None] | None) -> Turn:
        async with self.user_turns.hold(f"{channel}:{user_id}"):
            registered = await asyncio.wrap_future(arrival) if arrival is not None else None
            if self._pool is None:
                self._pool = TurnPool(self.turn_workers)
            pause = ARRIVAL_RETRY[0]
            while True:
                try:
                    return await self._pool.run(self.run_turn, channel, user_id, text, ticket, registered)
                except EarlierMessageWaiting:  # another worker still has an earlier message of theirs: it goes first
                    await asyncio.sleep(pause)
                    pause = min(2 * pause, ARRIVAL_RETRY[1])

    def _arrival_pool(self) -> TurnPool:
        if self._arrivals is None:
            self._arrivals = TurnPool(1, name="arrival")
        return self._arrivals

    def _keep(self, job: asyncio.Future[Turn]) -> None:
        """A turn nobody waits for any more still finishes; its failure, if any, is logged."""
        self._late.add(job)  # type: ignore[arg-type]
        job.add_done_callback(self._finished_late)

    def _finished_late(self, job: asyncio.Future[Turn]) -> None:
        self._late.discard(job)  # type: ignore[arg-type]
        if not job.cancelled() and job.exception() is not None:
            log.error("a turn that outran its budget failed", exc_info=job.exception())

    def close(self) -> None:
        """Stops the turn workers (a turn still running ends with the process)."""
        for pool in (self._pool, self._arrivals):
            if pool is not None:
                pool.close()
        self._pool = self._arrivals = None
        self.store.close_arrivals()

    def run_turn(self, channel: str, user_id: str, text: str, ticket: TurnTicket | None = None,
                 arrival: int | None = None) -> Turn:
        """One whole turn, synchronously: understand, run the flows, save. Runs in a worker thread.

        One turn per person at a time, in order: `UserTurns` in this process (see `handle`), and on
        PostgreSQL a database lock that every worker honours, after the person's earlier messages
        (`arrival`, registered as the message came; SQLite serves one worker).
        """
        with self.store.conversation_lock(channel, user_id, arrival) as held:
            return self._held_turn(held, channel, user_id, text, ticket)

    def _held_turn(self, held: ConversationLock, channel: str, user_id: str, text: str, ticket: TurnTicket | None) -> Turn:
        user_key = f"{channel}:{user_id}"
        now = self.clock()
        conversation_id, state = held.read(now)
        # While a person at the desk has the conversation, the assistant stays quiet (bot/handover.py).
        # The lock's read said whether a ticket is taken: a turn without one asks nothing more.
        quiet = self.handover.hold(channel, user_id, text, now) if held.desk_taken and self.handover is not None else None
        if quiet is not None:
            return Turn(replies=self.engine.responses.render(quiet) if quiet else [])
        # Typing (or a channel echoing) the title of a button just offered is pressing it.
        payload = (state.get(OFFERED) or {}).get(fold_words(text))
        parse = self.understand(payload or text)
        earlier = replies_from_json(state.pop(LATE_REPLIES, None) or [])
        services = Services(
            knowledge=self.knowledge, desk=self.desk, dossiers=self.dossiers, user_key=user_key, contact=self.contact
        )
        if parse.from_button and parse.intent == SHOW_LATE_INTENT:  # the flows wait; only the late answer is asked for
            stack = state.get("stack") or []
            result = EngineResult(
                state={k: v for k, v in state.items() if k != OFFERED}, flow=stack[-1]["flow"] if stack else None,
                replies=[] if earlier else self.engine.responses.render("late_replies_none"),
            )
        else:
            # No transaction is open while the flows run: actions write through the desk in their own,
            # which an open SQLite write would block (and a slow dossier provider would hold up everyone).
            result = self.engine.handle(state, parse, services, now)
        # Notices that could not reach the person (web chat, a closed Zalo window) come with this answer
        # (whether there are any, the lock's read said).
        notices: list[Reply] = []
        if held.notices_waiting:
            with self.store.session() as session, session.begin():
                notices = take_for_visit(session, channel, user_id, now)
        offered = {fold_words(b.title): b.payload for r in (*notices, *earlier, *result.replies) for b in r.buttons}
        # Decided once: the caller still waits (answer now) or gave up at the budget (answer next time).
        late = ticket is not None and not ticket.claim()
        if late:  # the user was shown the polite reply instead: typing its button's title presses it
            told = self.engine.responses.render("turn_over_budget")
            offered.update({fold_words(b.title): b.payload for r in told for b in r.buttons})
        new_state: dict[str, Any] = {**result.state, OFFERED: offered}
        if late:
            new_state[LATE_REPLIES] = replies_to_json((*notices, *earlier, *result.replies))
            replies = []
        elif earlier:
            replies = [*notices, *self.engine.responses.render("late_replies_intro"), *earlier, *result.replies]
        else:
            replies = [*notices, *result.replies]
        # The procedure the conversation is about after this message: the desk's "top procedures asked".
        asked = (result.state.get("slots") or {}).get("procedure_code")
        said: list[tuple[str, str, str | None, float | None, str | None]] = [
            ("in", parse.text, parse.intent, parse.confidence, asked if isinstance(asked, str) else None)
        ]
        said += [("out", reply.text, None, None, None) for reply in (*(told if late else ()), *notices, *result.replies)]
        # Nothing stored when the person had their data deleted this turn.
        held.save(conversation_id, new_state, now, said)
        log.info(
            "turn user=%s intent=%s conf=%.2f flows=%s->%s%s",
            user_key, parse.intent, parse.confidence, ",".join(result.started) or "-", result.flow or "-",
            " (late)" if late else "",
        )
        return Turn(
            replies=replies,
            intent=parse.intent,
            confidence=parse.confidence,
            flow=result.flow,
            procedures=[{"code": p.code, "name": p.name, "score": round(p.score, 4)} for p in parse.procedures],
            started=list(result.started),
            completed=list(result.completed),
            slots=dict(result.state.get("slots", {})),
        )


__all__ = ["Assistant", "Reply", "Turn"]
