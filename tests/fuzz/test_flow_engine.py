"""The shipped flows under fuzzing: any sequence of understood messages and button presses.

Each turn draws its message from what the previous answer offered (its buttons, as a user taps
them) or from anything a user may type, read by the model as any intent at any confidence.
Every turn answers, no action fails, the state stays small and storable, and data is deleted only
after an explicit yes: the Xoá button or the typed words, never a guess of the model.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from functools import lru_cache

from hypothesis import given
from hypothesis import strategies as st

from flows.actions.desk import answer_words
from flows.engine import MAX_STACK, FlowEngine
from flows.services import DOSSIER_STATUSES, DossierRecord, Services
from knowledge import fold_words, load_knowledge
from nlu.result import ParseResult, ProcedureMatch, parse_payload
from tests.fuzz.strategies import SENTENCES, oddities, payload_like, repeated_phrases, stories

NOW = datetime(2026, 12, 5, 9, 0)
TURN_BUDGET = 8.0
ENTITY_VALUES = ("delete", "keep", "send", "edit", "cancel", "very_satisfied", "unsatisfied", "skip", "person",
                 "fee", "documents", "not_understood", "000.00.19.H12-261116-0012", "", "x")


class RecordingDesk:
    """The desk, remembering what the flows asked of it."""

    def __init__(self) -> None:
        self.forgotten = 0

    def open_ticket(self, user_key: str, reason: str, summary: str) -> str:
        return "YC-00001"

    def save_feedback(self, user_key: str, kind: str, text: str, rating: str | None = None) -> str:
        return "PA-00001"

    def forget_user(self, user_key: str) -> int:
        self.forgotten += 1
        return 3


class Dossiers:
    """Every code is known, in a status that depends on it."""

    def lookup(self, code: str) -> DossierRecord | None:
        status = DOSSIER_STATUSES[sum(map(ord, code)) % len(DOSSIER_STATUSES)]
        return DossierRecord(code=code, status=status, procedure_name="Đăng ký khai sinh", procedure_code="1.001193")


@lru_cache(maxsize=1)
def _engine() -> FlowEngine:
    from flows.actions import registry

    return FlowEngine.load(registry)


@lru_cache(maxsize=1)
def _codes() -> tuple[str, ...]:
    return tuple(p.code for p in load_knowledge().procedures[:300])


def _typed() -> st.SearchStrategy[ParseResult]:
    """Anything typed, read as any intent at any confidence, with entities and procedures the model may add."""
    engine = _engine()
    intents = sorted(engine.starts) + ["affirm", "deny", "choose", "cancel", "resume", "nonsense"]
    text = st.sampled_from(SENTENCES) | oddities(st.sampled_from(SENTENCES)) | repeated_phrases(400) | stories(400)
    entities = st.dictionaries(
        st.sampled_from(("procedure", "choice", "rating", "dossier_code", "aspect", "reason")),
        st.sampled_from(ENTITY_VALUES) | st.sampled_from(_codes()), max_size=2,
    )
    procedures = st.lists(
        st.builds(ProcedureMatch, st.sampled_from(_codes()), st.just("Thủ tục"), st.floats(0, 1)), max_size=3
    ).map(lambda found: sorted(found, key=lambda p: -p.score))
    return st.builds(
        ParseResult, text=text, intent=st.sampled_from(intents) | st.none(), confidence=st.floats(0, 1),
        entities=entities, procedures=procedures,
    )


def _stray() -> st.SearchStrategy[ParseResult]:
    """A stray letter or a casual yes, which the model reads as affirm (issue 14: "a" at 0.61)."""
    return st.builds(
        ParseResult, text=st.sampled_from(("a", "aaa", "ạ", "à", "o", "ok", "ừ", "vâng", "👍", "yes", "okê")),
        intent=st.just("affirm"), confidence=st.floats(0.5, 1),
    )


def _pressed(payloads: list[str]) -> st.SearchStrategy[ParseResult]:
    """A button of the last answer, or any payload-looking text, as a button press."""
    pressable = st.sampled_from(payloads) if payloads else st.nothing()
    return (pressable | payload_like()).map(parse_payload).filter(lambda parse: parse is not None)  # type: ignore[arg-type]


def _explicit_yes(parse: ParseResult) -> bool:
    if parse.from_button:
        return parse.entities.get("choice") == "delete"
    words = answer_words()
    said = " ".join(w for w in fold_words(parse.text).split() if w not in words["fillers"])
    return said in words["delete_confirm"]["delete"]["words"] or fold_words(parse.text) in ("xoa",)


def _converse(data: st.DataObject, turns: int, first: list[ParseResult]) -> None:
    engine, knowledge = _engine(), load_knowledge()
    desk = RecordingDesk()
    services = Services(knowledge=knowledge, desk=desk, dossiers=Dossiers(), user_key="fuzz:1")
    state: dict | None = None
    offered: list[str] = []
    internal_error = engine.responses.text("internal_error")
    for n in range(turns):
        parse = first[n] if n < len(first) else data.draw(_typed() | _stray() | _pressed(offered), label=f"turn {n + 1}")
        forgotten = desk.forgotten
        started = time.perf_counter()
        result = engine.handle(state, parse, services, NOW + timedelta(minutes=n))
        assert time.perf_counter() - started < TURN_BUDGET
        said = [reply.text for reply in result.replies]
        assert said and all(text.strip() for text in said), f"no answer to {parse!r}"
        assert internal_error not in said, f"an action failed on {parse!r}"
        assert len(result.state["stack"]) <= MAX_STACK
        state = json.loads(json.dumps(result.state, ensure_ascii=False))  # what the database keeps
        if desk.forgotten > forgotten:
            assert _explicit_yes(parse), f"data deleted after {parse!r}"
        offered = [button.payload for reply in result.replies for button in reply.buttons]


@given(data=st.data(), turns=st.integers(1, 8))
def test_any_conversation_is_answered_and_deletes_only_after_an_explicit_yes(data, turns):
    _converse(data, turns, [])


@given(data=st.data(), turns=st.integers(2, 6), start=st.sampled_from(("/xoadulieu", "xoá dữ liệu của tôi")))
def test_the_delete_question_is_never_answered_by_a_guess(data, turns, start):
    asked = parse_payload(start) or ParseResult(text=start, intent="delete_my_data", confidence=0.97)
    _converse(data, turns, [asked])
