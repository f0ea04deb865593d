"""The flow engine: walks the YAML flows one user message at a time.

State is a plain JSON-able dict (the Assistant stores it per conversation), so a
restart loses nothing mid-flow. The stack holds the running flow on top and the
flows it interrupted below (digressions); each frame points at its next step.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flows.registry import ActionRegistry
from flows.replies import Button, ChecklistItem, Link, Reply
from flows.responses import ResponseBook
from flows.spec import END, Flow, FlowError, Step, parse_flow, validate_flows
from flows.yamlfile import LineDict, load_yaml
from nlu.result import ParseResult

log = logging.getLogger(__name__)

FLOWS_DIR = Path(__file__).resolve().parent
MAX_STEPS_PER_TURN = 60
MAX_STACK = 4


@dataclass(frozen=True)
class EngineConfig:
    # below this NLU confidence a typed message counts as not understood
    confidence_threshold: float = 0.5
    # a flow untouched this long is dropped on the next message
    ttl: timedelta = timedelta(minutes=60)


# Names the engine itself relies on; checked to exist when flows load.
FALLBACK_FLOW = "fallback"
CANCEL_INTENT = "cancel"
RESUME_INTENT = "resume"
REQUIRED_RESPONSES = ("cancelled", "nothing_to_cancel", "flow_expired", "resume_offer", "internal_error")
# Frame variable holding run-time buttons, links and a checklist for the flow's next question
# (ActionContext.extend_prompt); it lives in the state, so /resume and a restart show them again.
PROMPT_EXTRAS = "prompt_extras"


class ActionContext:
    """What an action sees: the message, the slots, the services; what it can say."""

    def __init__(self, engine: FlowEngine, state: State, frame: dict[str, Any], parse: ParseResult, services: Any):
        self._engine = engine
        self._state = state
        self.frame_vars: dict[str, Any] = frame.setdefault("vars", {})
        self.parse = parse
        self.services = services
        self.value: Any = None  # the user's answer, for a collect step's validator
        self.replies: list[Reply] = []

    @property
    def slots(self) -> dict[str, Any]:
        return self._state.slots

    @property
    def misses(self) -> int:
        return self._state.misses

    @property
    def now(self) -> datetime:
        """The clock of this turn (`FlowEngine.handle`'s `now`): what "today" means for a fee."""
        return datetime.fromisoformat(self._state.updated) if self._state.updated else datetime.utcnow()

    @property
    def responses(self) -> ResponseBook:
        return self._engine.responses

    def values(self, **extra: Any) -> dict[str, Any]:
        return {**self.slots, **self.frame_vars, **extra}

    def say(self, key: str, **values: Any) -> None:
        self.replies.extend(self._engine.responses.render(key, **self.values(**values)))

    def text(self, key: str, **values: Any) -> str:
        return self._engine.responses.text(key, **self.values(**values))

    def reply(self, reply: Reply) -> None:
        self.replies.append(reply)

    def drop_interrupted_flows(self) -> None:
        """Forgets the flows this one interrupted: none is offered back when it ends (the user deleted their data)."""
        del self._state.stack[:-1]

    def say_with_buttons(self, key: str, buttons: tuple[Button, ...], **values: Any) -> None:
        """Says a response with buttons made at run time (e.g. candidate procedures) instead of its own."""
        *head, last = self._engine.responses.render(key, **self.values(**values))
        self.replies.extend([*head, replace(last, buttons=buttons)])

    def extend_prompt(
        self, buttons: tuple[Button, ...] = (), links: tuple[Link, ...] = (), checklist: tuple[ChecklistItem, ...] = ()
    ) -> None:
        """Gives this flow's next question run-time buttons (before its own), links and a checklist.

        They stay with the question until it is answered: a rejection, /resume or a restart shows them again.
        """
        self.frame_vars[PROMPT_EXTRAS] = {
            "buttons": [[b.title, b.payload] for b in buttons],
            "links": [[lk.title, lk.url] for lk in links],
            "checklist": [[c.text, c.done] for c in checklist],
        }


def literal(parse: ParseResult) -> ParseResult:
    """What an explicit step may take as its answer: a button press as it is, typed text without the NLU's guesses.

    A message the model reads as affirm at 0.61 ("a", "ạ") is still only the letters typed.
    """
    if parse.from_button:
        return parse
    return replace(parse, intent=None, confidence=0.0, ranking=[], entities={}, procedures=[])


def _with_extras(replies: list[Reply], frame: dict[str, Any]) -> list[Reply]:
    """The question's replies with the run-time extras an action gave it (see ActionContext.extend_prompt)."""
    extras = frame.get("vars", {}).get(PROMPT_EXTRAS)
    if not extras or not replies:
        return replies
    *head, last = replies
    return [
        *head,
        replace(
            last,
            buttons=(*(Button(t, p) for t, p in extras["buttons"]), *last.buttons),
            links=(*last.links, *(Link(t, u) for t, u in extras["links"])),
            checklist=(*last.checklist, *(ChecklistItem(t, bool(d)) for t, d in extras["checklist"])),
        ),
    ]


@dataclass
class State:
    stack: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    misses: int = 0
    updated: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> State:
        # A deep copy: the stored state must not change under the caller's feet, or a store that
        # compares old and new (SQLAlchemy's JSON column) sees no change and keeps the old one.
        raw = copy.deepcopy(raw or {})
        return cls(
            stack=list(raw.get("stack", [])),
            slots=dict(raw.get("slots", {})),
            misses=int(raw.get("misses", 0)),
            updated=raw.get("updated"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "slots": self.slots, "misses": self.misses, "updated": self.updated}


@dataclass
class EngineResult:
    state: dict[str, Any]
    replies: list[Reply]
    flow: str | None  # the flow waiting for the user's next message, if any
    started: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


class FlowEngine:
    """Loads and validates the flows, then runs one user message through them."""

    def __init__(
        self,
        flows: dict[str, Flow],
        responses: ResponseBook,
        actions: ActionRegistry,
        global_slots: dict[str, str],
        config: EngineConfig | None = None,
    ):
        self.flows = flows
        self.responses = responses
        self.actions = actions
        self.global_slots = global_slots
        self.config = config or EngineConfig()
        self.starts = {intent: f.id for f in flows.values() for intent in f.intents}

    @classmethod
    def load(
        cls, actions: ActionRegistry, folder: Path = FLOWS_DIR, config: EngineConfig | None = None
    ) -> FlowEngine:
        """Reads flows/*.yml, flows/responses/*.yml and flows/slots.yml; fails on any bad reference."""
        root = folder.parent
        responses = ResponseBook.load(folder / "responses", root)
        global_slots: dict[str, str] = {}
        slots_file = folder / "slots.yml"
        if slots_file.exists():
            raw = load_yaml(slots_file, root) or {}
            if not isinstance(raw, LineDict):
                raise FlowError(f"{slots_file}:1: slots.yml must be a mapping of slot: {{type: ...}}")
            global_slots = {str(k): str((v or {}).get("type", "text")) for k, v in raw.items()}
        flows: dict[str, Flow] = {}
        for path in sorted(folder.glob("*.yml")):
            if path.name == "slots.yml":
                continue
            flow = parse_flow(path, root)
            if flow.id in flows:
                raise FlowError(f"{flow.file}: flow id '{flow.id}' is also used by {flows[flow.id].file}")
            flows[flow.id] = flow
        if FALLBACK_FLOW not in flows:
            raise FlowError(f"{folder}: the '{FALLBACK_FLOW}' flow is missing (it answers what is not understood)")
        for key in REQUIRED_RESPONSES:
            if key not in responses:
                raise FlowError(f"{folder / 'responses'}: required response '{key}' is missing")
        validate_flows(flows, actions=actions.names(), responses=responses.keys(), global_slots=global_slots)
        return cls(flows, responses, actions, global_slots, config)

    # -- one turn ---------------------------------------------------------------

    def handle(self, state: dict[str, Any] | None, parse: ParseResult, services: Any, now: datetime) -> EngineResult:
        st = State.from_dict(state)
        out: list[Reply] = []
        result = EngineResult(state={}, replies=out, flow=None)
        if st.stack and st.updated and now - datetime.fromisoformat(st.updated) > self.config.ttl:
            st.stack.clear()
            out.extend(self.responses.render("flow_expired"))
        st.updated = now.isoformat(timespec="seconds")
        intent = parse.intent if parse.from_button or parse.confidence >= self.config.confidence_threshold else None

        try:
            if intent == CANCEL_INTENT:
                out.extend(self.responses.render("cancelled" if st.stack else "nothing_to_cancel"))
                st.stack.clear()
            elif intent == RESUME_INTENT and st.stack and (parse.from_button or not self._checks_typed_resume(st)):
                self._prompt(st, st.stack[-1], parse, services, out)
            elif st.stack:
                self._answer(st, parse, intent, services, out, result)
            else:
                self._start(st, intent if intent in self.starts else None, parse, services, out, result)
        except Exception:
            # An action failed: apologise, keep the conversation usable, keep the trace in the log.
            log.exception("flow step failed (stack=%s)", [f["flow"] for f in st.stack])
            st.stack.clear()
            out.extend(self.responses.render("internal_error"))

        result.state = st.to_dict()
        result.flow = st.stack[-1]["flow"] if st.stack else None
        return result

    def _start(
        self, st: State, intent: str | None, parse: ParseResult, services: Any, out: list[Reply], result: EngineResult
    ) -> None:
        if intent is None:
            st.misses += 1
            flow_id = FALLBACK_FLOW
        else:
            st.misses = 0
            flow_id = self.starts[intent]
        self._push(st, flow_id, result)
        self._run(st, parse, services, out, result, fresh=True)

    def _push(self, st: State, flow_id: str, result: EngineResult) -> None:
        flow = self.flows[flow_id]
        for slot in flow.slots:  # a flow starts from its own slots empty
            st.slots.pop(slot, None)
        st.stack = [f for f in st.stack if f["flow"] != flow_id][-(MAX_STACK - 1):]
        st.stack.append({"flow": flow_id, "step": 0, "vars": {}, "waiting": False})
        result.started.append(flow_id)

    def _checks_typed_resume(self, st: State) -> bool:
        """A typed "tiếp"/"quay lại" the NLU reads as resume is first offered to the waiting question's validator.

        Only while nothing interrupted the question: after a digression it means "back to what I was doing".
        """
        frame = st.stack[-1]
        step = self.flows[frame["flow"]].steps[frame["step"]]
        return step.kind == "collect" and step.validate is not None and not frame.get("interrupted")

    def _answer(
        self, st: State, parse: ParseResult, intent: str | None, services: Any, out: list[Reply], result: EngineResult
    ) -> None:
        """The user answered the question the top flow asked, or digressed."""
        frame = st.stack[-1]
        frame.pop("interrupted", None)
        step = self.flows[frame["flow"]].steps[frame["step"]]
        other_flow = self.starts.get(intent or "")
        digression = other_flow is not None and other_flow != frame["flow"] and self.flows[other_flow].interrupts
        if digression and self._continues_topic(st, parse):
            self._digress(st, other_flow, parse, services, out, result)  # type: ignore[arg-type]
            return
        if step.validate is None:
            if digression and parse.from_button:
                self._digress(st, other_flow, parse, services, out, result)  # type: ignore[arg-type]
                return
            st.slots[step.slot or ""] = parse.entities.get(step.from_entity or "", parse.text)
        else:
            status = self._validate(st, frame, step, parse, services, out)
            if status != "valid":
                if digression:
                    self._digress(st, other_flow, parse, services, out, result)  # type: ignore[arg-type]
                    return
                if intent == RESUME_INTENT:  # not an answer here after all: ask the question again
                    self._prompt(st, frame, parse, services, out)
                    return
                self._reject(st, frame, step, status, parse, services, out)
                return
        st.misses = 0
        frame["waiting"] = False
        frame.get("vars", {}).pop(PROMPT_EXTRAS, None)  # they belonged to the question just answered
        frame["step"] = self._next_index(self.flows[frame["flow"]], step, frame["step"], None, st.slots)
        self._run(st, parse, services, out, result, fresh=False)

    @staticmethod
    def _continues_topic(st: State, parse: ParseResult) -> bool:
        """A follow-up about the procedure under discussion ("còn lệ phí thì sao") while a flow waits
        for something else (a rating's comment): the person goes on with their question, it is no answer.

        The procedure (the global slot procedure_code) outlives the flows that ran since, so the
        question binds to it after a status check, a rating or a handover too.
        """
        return not parse.from_button and bool(parse.entities.get("follow_up")) and bool(st.slots.get("procedure_code"))

    def _digress(
        self, st: State, flow_id: str, parse: ParseResult, services: Any, out: list[Reply], result: EngineResult
    ) -> None:
        st.misses = 0
        self._push(st, flow_id, result)
        self._run(st, parse, services, out, result, fresh=True)

    def _validate(
        self, st: State, frame: dict[str, Any], step: Step, parse: ParseResult, services: Any, out: list[Reply]
    ) -> str:
        if step.explicit:
            parse = literal(parse)
        ctx = ActionContext(self, st, frame, parse, services)
        ctx.value = parse.entities.get(step.from_entity or "") or parse.text
        slot = step.slot or ""
        previous = st.slots.pop(slot, None)
        status = self.actions[step.validate or ""](ctx) or "valid"
        out.extend(ctx.replies)
        if status != "valid":
            if previous is not None:
                st.slots[slot] = previous
        elif slot not in st.slots:  # a validator may store a cleaned-up value itself
            st.slots[slot] = ctx.value
        return status

    def _reject(
        self, st: State, frame: dict[str, Any], step: Step, status: str, parse: ParseResult, services: Any, out: list[Reply]
    ) -> None:
        ctx = ActionContext(self, st, frame, parse, services)
        matching = (r.response for r in step.rejections if r.condition.holds(status, st.slots))
        ctx.say(next(matching, step.prompt or ""))
        out.extend(_with_extras(ctx.replies, frame))

    def _prompt(self, st: State, frame: dict[str, Any], parse: ParseResult, services: Any, out: list[Reply]) -> None:
        step = self.flows[frame["flow"]].steps[frame["step"]]
        frame.pop("interrupted", None)
        ctx = ActionContext(self, st, frame, parse, services)
        ctx.say(step.prompt or "")
        out.extend(_with_extras(ctx.replies, frame))
        frame["waiting"] = True

    def _next_index(self, flow: Flow, step: Step, index: int, status: str | None, slots: dict[str, Any]) -> int:
        for branch in step.next:
            if branch.condition is None or branch.condition.holds(status, slots):
                return len(flow.steps) if branch.target == END else flow.index(branch.target)
        return index + 1

    def _run(
        self, st: State, parse: ParseResult, services: Any, out: list[Reply], result: EngineResult, fresh: bool
    ) -> None:
        """Runs steps until a flow waits for the user or every flow on the stack is done."""
        for _ in range(MAX_STEPS_PER_TURN):
            if not st.stack:
                return
            frame = st.stack[-1]
            flow = self.flows[frame["flow"]]
            if frame["step"] >= len(flow.steps):
                st.stack.pop()
                result.completed.append(flow.id)
                if st.stack:  # a digression ended: offer to go back to what was interrupted
                    st.stack[-1]["interrupted"] = True
                    below = self.flows[st.stack[-1]["flow"]]
                    out.extend(self.responses.render("resume_offer", flow_title=below.title or below.description))
                    return
                continue
            step = flow.steps[frame["step"]]
            status: str | None = None
            if step.kind == "say":
                ctx = ActionContext(self, st, frame, parse, services)
                ctx.say(step.response or "")
                out.extend(ctx.replies)
            elif step.kind == "action":
                ctx = ActionContext(self, st, frame, parse, services)
                status = self.actions[step.action or ""](ctx)
                out.extend(ctx.replies)
            elif step.kind == "set":
                st.slots.update(step.values)
            elif step.kind == "link":
                st.stack.pop()
                result.completed.append(flow.id)
                self._push(st, step.link or "", result)
                continue
            elif step.kind == "collect":
                slot = step.slot or ""
                filled = st.slots.get(slot) not in (None, "")
                if filled and not step.ask_always:
                    pass
                elif fresh and step.from_entity and step.from_entity in (literal(parse) if step.explicit else parse).entities:
                    status = self._validate(st, frame, step, parse, services, out) if step.validate else "valid"
                    if step.validate is None:
                        st.slots[slot] = parse.entities[step.from_entity]
                    if status != "valid":
                        self._reject(st, frame, step, status, parse, services, out)
                        frame["waiting"] = True
                        return
                    status = None
                else:
                    self._prompt(st, frame, parse, services, out)
                    return
            frame["step"] = self._next_index(flow, step, frame["step"], status, st.slots)
        raise FlowError(f"flow '{st.stack[-1]['flow'] if st.stack else '?'}' ran {MAX_STEPS_PER_TURN} steps in one turn")

