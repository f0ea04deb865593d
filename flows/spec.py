"""Flow definitions: the YAML format under flows/, parsed and validated at start-up.

A flow file holds one flow:

    id: dossier_status
    description: Looks up a dossier from its code and explains its status.
    start: {intents: [check_status]}
    slots: {dossier_status_code: {type: text}}
    steps:
      - id: ask_code
        collect: dossier_status_code      # pause here until the user answers
        prompt: dossier_status_ask_code   # a response key (flows/responses/*.yml)
        from_entity: dossier_code         # filled at once when NLU found one
        validate: validate_dossier_code   # an action; its status picks a rejection
        rejections:
          - {if: {status: invalid}, say: dossier_status_bad_code}
      - action: lookup_dossier            # returns a status to branch on
        next:
          - {if: {status: found}, then: explain}
          - {else: not_found}
      - {id: explain, say: dossier_status_found, next: END}
      - {id: not_found, say: dossier_status_not_found}

A collect step that must not be answered by a guess (deleting data) says `explicit: true`: only
a button press or the typed words its validator accepts answer it; the NLU's reading of a typed
message (its intent, entities) never does, so a stray "a" read as affirm deletes nothing.

Step kinds: say, collect, action, set, link. `next` is a step id, END, or a list of
`{if: COND, then: TARGET}` ending with `{else: TARGET}`; COND is `{status: S}`,
`{slot: NAME, equals: V}` or `{slot: NAME, set: true|false}`. `start: {interrupts: false}`
keeps a flow from starting in the middle of another (small talk such as a bare "ok"). Without `next` a step
goes on to the one below it; after the last step the flow ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from flows.yamlfile import LineDict, load_yaml

END = "END"
STEP_KINDS = ("say", "collect", "action", "set", "link")
SLOT_TYPES = ("text", "bool", "any")


class FlowError(ValueError):
    """A flow file that is not valid; the message says file, line and the name at fault."""


@dataclass(frozen=True)
class Condition:
    status: str | None = None
    slot: str | None = None
    equals: Any = None
    is_set: bool | None = None

    def holds(self, status: str | None, slots: dict[str, Any]) -> bool:
        if self.status is not None:
            return status == self.status
        value = slots.get(self.slot or "")
        if self.is_set is not None:
            return (value not in (None, "")) == self.is_set
        return value == self.equals


@dataclass(frozen=True)
class Branch:
    condition: Condition | None  # None: the else branch
    target: str
    where: str


@dataclass(frozen=True)
class Rejection:
    condition: Condition
    response: str
    where: str


@dataclass
class Step:
    id: str
    kind: str
    where: str
    response: str | None = None  # say
    slot: str | None = None  # collect
    prompt: str | None = None
    validate: str | None = None
    from_entity: str | None = None
    ask_always: bool = False
    explicit: bool = False  # only a button or the validator's own typed words answer it, never an NLU guess
    rejections: list[Rejection] = field(default_factory=list)
    action: str | None = None  # action
    values: dict[str, Any] = field(default_factory=dict)  # set
    link: str | None = None  # link
    next: list[Branch] = field(default_factory=list)


@dataclass
class Flow:
    id: str
    description: str
    file: str
    intents: list[str]
    slots: dict[str, str]
    steps: list[Step]
    title: str = ""
    # False: the flow starts only when nothing else is going on (a bare "ok" must not interrupt a question)
    interrupts: bool = True

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)


def _fail(where: str, message: str) -> FlowError:
    return FlowError(f"{where}: {message}")


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict):
        raise _fail(where, f"'if' must be a mapping like {{status: found}}, got {raw!r}")
    keys = set(raw)
    if keys == {"status"}:
        return Condition(status=str(raw["status"]))
    if keys == {"slot", "equals"}:
        return Condition(slot=str(raw["slot"]), equals=raw["equals"])
    if keys == {"slot", "set"}:
        return Condition(slot=str(raw["slot"]), is_set=bool(raw["set"]))
    raise _fail(where, f"unknown condition {dict(raw)!r}: use status, slot+equals or slot+set")


def _branches(raw: Any, where: str) -> list[Branch]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [Branch(None, raw, where)]
    if not isinstance(raw, list):
        raise _fail(where, f"'next' must be a step id, END or a list of if/then, got {raw!r}")
    branches = []
    for item in raw:
        at = item.where() if isinstance(item, LineDict) else where
        if isinstance(item, dict) and set(item) == {"else"}:
            branches.append(Branch(None, str(item["else"]), at))
        elif isinstance(item, dict) and set(item) == {"if", "then"}:
            branches.append(Branch(_condition(item["if"], at), str(item["then"]), at))
        else:
            raise _fail(at, f"a 'next' entry needs if+then or else, got {item!r}")
    return branches


_STEP_KEYS = {
    "say": {"say"},
    "collect": {"collect", "prompt", "validate", "from_entity", "ask_always", "explicit", "rejections"},
    "action": {"action"},
    "set": {"set"},
    "link": {"link"},
}


def _step(raw: Any, index: int, file: str) -> Step:
    if not isinstance(raw, LineDict):
        raise _fail(f"{file}", f"step {index + 1} must be a mapping, got {raw!r}")
    where = raw.where()
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        raise _fail(where, f"a step needs exactly one of {', '.join(STEP_KINDS)}; found {kinds or 'none'}")
    kind = kinds[0]
    unknown = set(raw) - _STEP_KEYS[kind] - {"id", "next"}
    if unknown:
        raise _fail(where, f"unknown key(s) for a {kind} step: {', '.join(sorted(map(str, unknown)))}")
    step = Step(id=str(raw.get("id", f"step_{index + 1}")), kind=kind, where=where)
    step.next = _branches(raw.get("next"), raw.where("next"))
    if kind == "say":
        step.response = str(raw["say"])
    elif kind == "collect":
        step.slot = str(raw["collect"])
        if "prompt" not in raw:
            raise _fail(where, f"collect step '{step.slot}' needs a prompt (a response key)")
        step.prompt = str(raw["prompt"])
        step.validate = raw.get("validate")
        step.from_entity = raw.get("from_entity")
        step.ask_always = bool(raw.get("ask_always", False))
        step.explicit = raw.get("explicit", False)
        if not isinstance(step.explicit, bool):
            raise _fail(raw.where("explicit"), f"'explicit' must be true or false, got {step.explicit!r}")
        if step.explicit and step.validate is None:
            raise _fail(where, f"collect step '{step.slot}' is explicit: it needs a validate action that checks the words")
        for rej in raw.get("rejections") or []:
            at = rej.where() if isinstance(rej, LineDict) else where
            if not isinstance(rej, dict) or set(rej) != {"if", "say"}:
                raise _fail(at, f"a rejection needs if+say, got {rej!r}")
            step.rejections.append(Rejection(_condition(rej["if"], at), str(rej["say"]), at))
    elif kind == "action":
        step.action = str(raw["action"])
    elif kind == "set":
        if not isinstance(raw["set"], dict) or not raw["set"]:
            raise _fail(where, "'set' needs a mapping of slot: value")
        step.values = dict(raw["set"])
    elif kind == "link":
        step.link = str(raw["link"])
    return step


def parse_flow(path: Path, root: Path | None = None) -> Flow:
    raw = load_yaml(path, root)
    file = raw.file if isinstance(raw, LineDict) else str(path)
    if not isinstance(raw, LineDict):
        raise _fail(f"{file}:1", "a flow file must be a mapping with id, description and steps")
    for key in ("id", "description", "steps"):
        if not raw.get(key):
            raise _fail(raw.where(), f"missing required '{key}'")
    unknown = set(raw) - {"id", "description", "title", "start", "slots", "steps"}
    if unknown:
        raise _fail(raw.where(), f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    start = raw.get("start") or {}
    slots_raw = raw.get("slots") or {}
    slots: dict[str, str] = {}
    for name, spec in slots_raw.items():
        slot_type = (spec or {}).get("type", "text") if isinstance(spec, dict) else "text"
        if slot_type not in SLOT_TYPES:
            raise _fail(slots_raw.where(name), f"slot '{name}': unknown type '{slot_type}'")
        slots[str(name)] = slot_type
    if not isinstance(raw["steps"], list):
        raise _fail(raw.where("steps"), "'steps' must be a list")
    steps = [_step(s, i, file) for i, s in enumerate(raw["steps"])]
    return Flow(
        id=str(raw["id"]),
        description=str(raw["description"]),
        title=str(raw.get("title", "")),
        file=file,
        intents=[str(i) for i in start.get("intents", [])],
        interrupts=bool(start.get("interrupts", True)),
        slots=slots,
        steps=steps,
    )


def validate_flows(
    flows: dict[str, Flow],
    *,
    actions: Iterable[str],
    responses: Iterable[str],
    global_slots: Iterable[str],
) -> None:
    """Checks every reference; the first problem is raised with file, line and name."""
    actions, responses, global_slots = set(actions), set(responses), set(global_slots)
    owner: dict[str, str] = {}
    for flow in flows.values():
        for intent in flow.intents:
            if intent in owner:
                raise _fail(flow.file, f"intent '{intent}' already starts flow '{owner[intent]}'")
            owner[intent] = flow.id
        known_slots = global_slots | set(flow.slots)
        step_ids = [s.id for s in flow.steps]
        dupes = {i for i in step_ids if step_ids.count(i) > 1}
        if dupes:
            raise _fail(flow.file, f"duplicate step id(s): {', '.join(sorted(dupes))}")

        def need_slot(name: str | None, where: str, known: set[str] = known_slots) -> None:
            if name is not None and name not in known:
                raise _fail(where, f"unknown slot '{name}' (declare it under 'slots')")

        def need_response(key: str | None, where: str) -> None:
            if key is not None and key not in responses:
                raise _fail(where, f"unknown response '{key}' (add it to flows/responses/)")

        for step in flow.steps:
            need_response(step.response, step.where)
            need_response(step.prompt, step.where)
            need_slot(step.slot, step.where)
            for action_name in (step.action, step.validate):
                if action_name is not None and action_name not in actions:
                    raise _fail(step.where, f"unknown action '{action_name}'")
            for rej in step.rejections:
                need_response(rej.response, rej.where)
                need_slot(rej.condition.slot, rej.where)
            for name in step.values:
                need_slot(name, step.where)
            if step.link is not None and step.link not in flows:
                raise _fail(step.where, f"unknown flow '{step.link}' in link")
            for branch in step.next:
                if branch.target != END and branch.target not in step_ids:
                    raise _fail(branch.where, f"unknown step '{branch.target}' in next")
                if branch.condition is not None:
                    need_slot(branch.condition.slot, branch.where)
