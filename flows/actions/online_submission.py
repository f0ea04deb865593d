"""Actions of the online_submission flow: find the procedure, choose the path, walk it one step per turn.

The walkthrough comes from the curated guide (`Guide.steps_for(mode, has_fee)`), or, for a procedure
without one, is built from the catalog record's own steps and channels and said to be generic. Only
the procedure code, the path, the step number and the ticks are kept in the flow's frame (plain JSON),
so a restart resumes at the same step and an edited guide shows at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from flows.actions import registry
from flows.actions.procedure_info import _candidates, choice_buttons, decide
from flows.engine import ActionContext
from flows.replies import Button, ChecklistItem, Link
from flows.responses import intent_payload
from knowledge import fold, fold_words, select_documents
from nlu.result import ProcedureMatch

INTENT = "ask_howto_online"
# Buttons of this flow send `/online_submission{"do": "next"}` (or "mode", "item"); no flow starts on it.
COMMAND_INTENT = "online_submission"
MODES = ("full", "partial", "postal")
ONLINE_MODES = ("full", "partial")
# Checklist items shown for a procedure without a guide (the record can list dozens of rows).
MAX_CHECKLIST = 8
ITEM_CHARS = 110
BUTTON_ITEM_CHARS = 30
NAME_CHARS = 140
# A generic walkthrough quotes at most this many parts of the record's steps, each cut to this length.
MAX_RECORD_PARTS = 4
RECORD_PART_CHARS = 480
# Which help a sticking point gets: step id -> topics. A topic's text is `portal_help_topic_<topic>`
# (shared with the portal_help flow) or `online_submission_stuck_<topic>`.
STUCK_TOPICS: dict[str, tuple[str, ...]] = {
    "chuan-bi": ("documents",),
    "chup-giay-to": ("scan",),
    "tai-giay-to": ("scan",),
    "dien-tai": ("scan",),
    "dang-nhap": ("login", "vneid"),
    "thanh-toan": ("payment",),
    "gui-buu-dien": ("postal",),
    "doi-chieu": ("in_person",),
}
# Word lists (flows/responses/online_submission.yml) that typed answers are read with, strongest first.
COMMAND_WORDS = ("stop", "stuck", "back", "continue", "next", "tick", "filler")
_DOMAIN = re.compile(r"\b((?:[a-z0-9-]+\.)+(?:gov\.vn|vn|com))\b", re.I)
_STEP_START = re.compile(r"^\W*(bước\s*\d+|\d+\s*[.)]|[a-zđ]\)\s)", re.I)
_LEADING_MARKS = re.compile(r"^[\s\-–•+*.)(]+")


# -- what the user typed ---------------------------------------------------------


def word_lists(ctx: ActionContext, prefix: str, kinds: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
    """Comma-separated phrases of the responses `<prefix><kind>`, folded into word tuples."""
    lists: dict[str, list[tuple[str, ...]]] = {}
    for kind in kinds:
        phrases = (tuple(_words(p)) for p in ctx.text(f"{prefix}{kind}").split(","))
        lists[kind] = [p for p in phrases if p]
    return lists


def _words(text: str) -> list[str]:
    return fold_words(text).split()


def _cover(words: list[str], vocabulary: dict[str, list[tuple[str, ...]]]) -> set[str] | None:
    """The kinds of phrase that together make up `words` (longest phrase first), or None if a word is left over."""
    kinds: set[str] = set()
    i = 0
    while i < len(words):
        best: tuple[int, str] | None = None
        for kind, phrases in vocabulary.items():  # dict order is the priority on equal length
            for phrase in phrases:
                if tuple(words[i:i + len(phrase)]) == phrase and (best is None or len(phrase) > best[0]):
                    best = (len(phrase), kind)
        if best is None:
            return None
        kinds.add(best[1])
        i += best[0]
    return kinds


def read_command(text: str, vocabulary: dict[str, list[tuple[str, ...]]]) -> dict[str, Any] | None:
    """A typed answer to a walkthrough step as a command, or None when it says something else.

    Only a message made wholly of command words and fillers counts ("xong rồi ạ", "bi ket o buoc nay"),
    so a question that happens to hold "rồi" is answered as a question. Numbers tick checklist items.
    """
    words = _words(text)
    numbers = [int(w) for w in words if w.isdigit()]
    kinds = _cover([w for w in words if not w.isdigit()], vocabulary)
    if kinds is None:
        return None
    if numbers:
        return {"do": "tick", "items": numbers} if kinds <= {"tick", "next", "continue", "filler"} else None
    for kind in ("stop", "stuck", "back", "continue", "next"):
        if kind in kinds:
            return {"do": kind}
    return None


def mentions(text: str, phrases: list[tuple[str, ...]]) -> int:
    """How many words of `text` the phrases cover (0: none appears)."""
    words = _words(text)
    return sum(
        len(p) for p in phrases if any(tuple(words[i:i + len(p)]) == p for i in range(len(words) - len(p) + 1))
    )


# -- the procedure ---------------------------------------------------------------


def confident(hits: list[ProcedureMatch]) -> ProcedureMatch | None:
    """The procedure meant, by the same rule as procedure_info: a clear lead over the runner-up, or a button."""
    return hits[0] if decide(hits) == "confident" else None


def _choose_procedure(ctx: ActionContext, code: str) -> None:
    ctx.frame_vars["code"] = code
    ctx.slots["procedure_code"] = code  # "lệ phí bao nhiêu?" mid-walkthrough is about this procedure


def _buttons_of(ctx: ActionContext, key: str, **values: Any) -> tuple[Button, ...]:
    """The buttons of a response that only holds a set of buttons."""
    return tuple(b for r in ctx.responses.render(key, **ctx.values(**values)) for b in r.buttons)


@registry.register("find_submission_procedure")
def find_submission_procedure(ctx: ActionContext) -> str:
    """Takes the procedure from the button, the message or the conversation; else offers candidates."""
    hits = _candidates(ctx)
    if decide(hits) != "weak":
        top = confident(hits)
        if top is not None:
            _choose_procedure(ctx, top.code)
            return "found"
        ctx.extend_prompt(buttons=choice_buttons(hits, INTENT))
        return "ask"
    if ctx.slots.get("procedure_code") and ctx.services.knowledge.get(ctx.slots["procedure_code"]):
        _choose_procedure(ctx, ctx.slots["procedure_code"])
        return "found"
    ctx.extend_prompt(buttons=_buttons_of(ctx, "online_submission_popular"))
    return "ask"


@registry.register("submission_procedure_from_answer")
def submission_procedure_from_answer(ctx: ActionContext) -> str:
    """Validates the typed procedure name: valid, ambiguous (new candidate buttons) or not_found."""
    hits = _candidates(ctx)
    top = confident(hits)
    if top is not None:
        _choose_procedure(ctx, top.code)
        return "valid"
    if decide(hits) == "ambiguous":
        ctx.extend_prompt(buttons=choice_buttons(hits, INTENT))
        return "ambiguous"
    ctx.frame_vars["query"] = str(ctx.value)[:80]
    return "not_found"


# -- the path --------------------------------------------------------------------


def available_modes(procedure: Any, guide: Any) -> list[str]:
    """The ways to submit that the record offers and the guide (if any) describes.

    A level the record states ("toàn trình" / "một phần" in its name) wins over the guide; an
    inferred one does not, since the catalog only writes "Trực tuyến" for both.
    """
    online = procedure.channel("online") is not None
    postal = procedure.channel("postal") is not None
    if guide is None:
        modes = ["full" if procedure.online_level == "full" else "partial"] if online else []
        return modes + (["postal"] if postal else [])
    modes = [m for m in MODES if guide.steps_for(m) and (online if m in ONLINE_MODES else postal)]
    if procedure.online_level_basis == "stated" and procedure.online_level == "partial":
        modes = [m for m in modes if m != "full"]
    return modes


def _procedure_values(procedure: Any) -> dict[str, Any]:
    return {
        "procedure_name": short(procedure.name, NAME_CHARS),
        "procedure_code": procedure.code,
        "source_url": procedure.source_url,
        "catalog_date": procedure.catalog_date,
    }


def _procedure(ctx: ActionContext) -> tuple[Any, Any]:
    knowledge = ctx.services.knowledge
    procedure = knowledge.get(ctx.frame_vars["code"])
    return procedure, knowledge.guide(procedure.code)


@registry.register("plan_submission")
def plan_submission(ctx: ActionContext) -> str:
    """Finds the ways to submit: one (taken), several (asked with buttons) or none."""
    procedure, guide = _procedure(ctx)
    modes = available_modes(procedure, guide)
    ctx.frame_vars["modes"] = modes
    if not modes:
        return "none"
    if len(modes) == 1:
        ctx.slots["online_submission_mode"] = modes[0]
        return "one"
    lines = [ctx.text("online_submission_mode_line", number=i, description=ctx.text(f"online_submission_mode_{m}"))
             for i, m in enumerate(modes, 1)]
    ctx.frame_vars["mode_lines"] = "\n".join(lines)
    ctx.frame_vars.update(_procedure_values(procedure))
    ctx.extend_prompt(buttons=tuple(
        Button(ctx.text(f"online_submission_mode_{m}_button"), intent_payload(COMMAND_INTENT, {"mode": m})) for m in modes
    ))
    return "choose"


@registry.register("submission_mode_from_answer")
def submission_mode_from_answer(ctx: ActionContext) -> str:
    """Validates the chosen path: a button, its number, or words such as "bưu điện", "toàn trình"."""
    modes: list[str] = ctx.frame_vars.get("modes") or []
    mode = ctx.parse.entities.get("mode") if ctx.parse.intent == COMMAND_INTENT else _typed_mode(ctx, modes)
    if mode not in modes:
        return "unclear"
    ctx.slots["online_submission_mode"] = mode
    return "valid"


def _typed_mode(ctx: ActionContext, modes: list[str]) -> str | None:
    words = _words(ctx.parse.text)
    if len(words) == 1 and words[0].isdigit() and 1 <= int(words[0]) <= len(modes):
        return modes[int(words[0]) - 1]
    lists = word_lists(ctx, "online_submission_words_mode_", (*MODES, "online"))
    scores = {m: mentions(ctx.parse.text, lists[m]) for m in modes}
    best = max(scores, key=lambda m: scores[m], default=None)
    if best is not None and scores[best] and list(scores.values()).count(scores[best]) == 1:
        return best
    online = [m for m in modes if m in ONLINE_MODES]
    if len(online) == 1 and mentions(ctx.parse.text, lists["online"]):
        return online[0]
    return None


# -- the walkthrough -------------------------------------------------------------


@dataclass(frozen=True)
class WalkStep:
    """One step as shown: from the guide, from the generic wording, or quoted from the record."""

    id: str
    title: str
    text: str
    tips: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    checklist: bool = False  # the documents checklist is ticked at this step


@dataclass(frozen=True)
class Walkthrough:
    procedure: Any
    guide: Any
    mode: str
    steps: tuple[WalkStep, ...]
    checklist: tuple[str, ...]
    more_documents: int  # record rows left out of a generic checklist

    @property
    def generic(self) -> bool:
        return self.guide is None


def short(text: str, limit: int) -> str:
    """`text` cut after the last whole word within `limit` characters, with "…" when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit + 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def record_checklist(procedure: Any, guide: Any = None) -> tuple[list[str], int]:
    """Documents to prepare, the same selection as the documents answer (knowledge.select_documents):
    the core documents (the guide's, or the record's general rows), and how many were left out
    (special cases and rows past the limit)."""
    selection = select_documents(procedure, guide)
    items = list(dict.fromkeys(c.text for c in selection.core))
    left_out = max(0, len(items) - MAX_CHECKLIST) + selection.special_count
    return [short(i, ITEM_CHARS) for i in items[:MAX_CHECKLIST]], left_out


def record_parts(steps: list[str]) -> list[str]:
    """The record's steps grouped into parts: a line starting "Bước 2", "2." or "b)" opens a new part."""
    parts: list[list[str]] = []
    for line in (s.strip() for s in steps):
        if not line:
            continue
        if not parts or _STEP_START.match(line):
            parts.append([line])
        else:
            parts[-1].append(line)
    return [" ".join(p) for p in parts]


def portal_links(ctx: ActionContext, text: str) -> tuple[Link, ...]:
    """A link for each web address the guide's step text names ("Vào dichvucong.gov.vn ...")."""
    domains = dict.fromkeys(m.lower() for m in _DOMAIN.findall(text))
    return tuple(Link(ctx.text("online_submission_link_site", domain=d), f"https://{d}") for d in domains)


def _guided_steps(ctx: ActionContext, procedure: Any, guide: Any, mode: str) -> list[WalkStep]:
    steps = []
    for step in guide.steps_for(mode, has_fee=procedure.has_fee):
        links = portal_links(ctx, step.text)
        if step.id == "tim-thu-tuc":
            links += (Link(ctx.text("online_submission_link_procedure"), procedure.source_url),)
        steps.append(WalkStep(step.id, step.title, step.text, tuple(step.tips), links, checklist=step.id == "chuan-bi"))
    return steps


def _generic_step(ctx: ActionContext, step_id: str, procedure: Any, links: tuple[Link, ...] = ()) -> WalkStep:
    key = "online_submission_generic_" + step_id.replace("-", "_")
    agencies = procedure.agencies
    agency = next((a for a in (agencies.submission_address, agencies.implementing, agencies.competent)
                   if a and not fold(a).startswith("khong co thong tin")), "")
    values = {**_procedure_values(procedure), "agency": agency or ctx.text("online_submission_agency_unknown")}
    text = ctx.text(key, **values)
    return WalkStep(step_id, ctx.text(f"{key}_title", **values), text, links=portal_links(ctx, text) + links,
                    checklist=step_id == "chuan-bi")


def _generic_steps(ctx: ActionContext, procedure: Any, mode: str) -> list[WalkStep]:
    """Generic wording around the record's own steps, quoted part by part with the source."""
    source = (Link(ctx.text("online_submission_link_procedure"), procedure.source_url),)
    parts = record_parts(procedure.steps)
    quoted = []
    for i, part in enumerate(parts[:MAX_RECORD_PARTS], 1):
        text = ctx.text("online_submission_record_part", quote=short(part, RECORD_PART_CHARS))
        if i == MAX_RECORD_PARTS and len(parts) > MAX_RECORD_PARTS:
            text += "\n" + ctx.text("online_submission_record_more", count=len(parts) - MAX_RECORD_PARTS)
        shown = min(len(parts), MAX_RECORD_PARTS)
        title = ctx.text("online_submission_record_part_title", part=i, parts=shown) if shown > 1 else \
            ctx.text("online_submission_record_title")
        quoted.append(WalkStep(f"quy-trinh-{i}", title, text, links=source))
    steps = [_generic_step(ctx, "chuan-bi", procedure)]
    if mode == "postal":
        return steps + quoted + [_generic_step(ctx, "gui-buu-dien", procedure)]
    steps += [_generic_step(ctx, "dang-nhap", procedure), _generic_step(ctx, "tim-thu-tuc", procedure, source)]
    steps += quoted + [_generic_step(ctx, "dien-tai", procedure)]
    if procedure.has_fee:
        steps.append(_generic_step(ctx, "thanh-toan", procedure))
    return steps + [_generic_step(ctx, "nop-ho-so", procedure)]


def walkthrough(ctx: ActionContext) -> Walkthrough:
    """The walkthrough of the frame's procedure and path, built afresh from the knowledge each turn."""
    procedure, guide = _procedure(ctx)
    mode = ctx.slots.get("online_submission_mode") or "partial"
    if guide is not None:
        steps = _guided_steps(ctx, procedure, guide, mode)
    else:
        steps = _generic_steps(ctx, procedure, mode)
    checklist, more = record_checklist(procedure, guide)
    if checklist and not any(s.checklist for s in steps):
        steps.insert(0, _generic_step(ctx, "chuan-bi", procedure))
    return Walkthrough(procedure, guide, mode, tuple(steps), tuple(checklist), more)


def _ticks(ctx: ActionContext, walk: Walkthrough) -> list[bool]:
    ticks = list(ctx.frame_vars.get("ticks") or [])[: len(walk.checklist)]
    return ticks + [False] * (len(walk.checklist) - len(ticks))


def _missing(ticks: list[bool]) -> list[int]:
    return [i for i, done in enumerate(ticks, 1) if not done]


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _index(ctx: ActionContext, walk: Walkthrough) -> int:
    return min(max(int(ctx.frame_vars.get("index") or 0), 0), len(walk.steps) - 1)


def _show_step(ctx: ActionContext, walk: Walkthrough, index: int) -> str:
    """Prepares the step's question: text, links, checklist and tick buttons (shown again on /resume)."""
    ctx.frame_vars["index"] = index
    step = walk.steps[index]
    header = "online_submission_step_header_generic" if walk.generic else "online_submission_step_header"
    lines = [ctx.text(header, number=index + 1, total=len(walk.steps), title=step.title), step.text]
    lines += [ctx.text("online_submission_tip", tip=tip) for tip in step.tips]
    buttons: tuple[Button, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    if step.checklist and walk.checklist:
        ticks = _ticks(ctx, walk)
        checklist = tuple(
            ChecklistItem(ctx.text("online_submission_checklist_item", number=i, text=text), done)
            for i, (text, done) in enumerate(zip(walk.checklist, ticks), 1)
        )
        buttons = tuple(
            Button(ctx.text("online_submission_tick_button", number=i, item=short(text, BUTTON_ITEM_CHARS)),
                   intent_payload(COMMAND_INTENT, {"do": "tick", "item": str(i)}))
            for i, (text, done) in enumerate(zip(walk.checklist, ticks), 1) if not done
        )
        lines.append(ctx.text("online_submission_checklist_hint"))
        missing = _missing(ticks)
        lines.append(ctx.text("online_submission_checklist_missing", count=len(missing), numbers=_numbers(missing))
                     if missing else ctx.text("online_submission_checklist_complete"))
        if walk.more_documents:
            lines.append(ctx.text("online_submission_checklist_more", count=walk.more_documents))
    ctx.frame_vars["view"] = "\n".join(line for line in lines if line)
    ctx.frame_vars["viewing"] = "step"
    ctx.extend_prompt(buttons=buttons, links=step.links, checklist=checklist)
    return "step"


def _stuck_help(ctx: ActionContext, topics: tuple[str, ...], values: dict[str, Any]) -> tuple[list[str], list[Button]]:
    """Texts and buttons for the topics: the portal_help wording (shared) plus this flow's own, if any."""
    texts: list[str] = []
    buttons: list[Button] = []
    for topic in topics:
        for key in (f"portal_help_topic_{topic}", f"online_submission_stuck_{topic}"):
            if key in ctx.responses:
                for reply in ctx.responses.render(key, **ctx.values(**values)):
                    texts.append(reply.text)
                    buttons.extend(reply.buttons)
    return texts, buttons


def _show_stuck(ctx: ActionContext, walk: Walkthrough, index: int) -> str:
    """Prepares the help for the step's sticking point, then continue / a person / stop."""
    step = walk.steps[index]
    topics = STUCK_TOPICS.get(step.id, ("general",))
    texts, buttons = _stuck_help(ctx, topics, _procedure_values(walk.procedure))
    notes: list[str] = []
    if walk.guide is not None and "postal" in topics:
        notes = list(walk.guide.postal_notes)
    elif walk.guide is not None and "in_person" in topics:
        notes = list(walk.guide.in_person_notes)
    lines = [ctx.text("online_submission_stuck_header", number=index + 1, title=step.title), *texts]
    lines += [ctx.text("online_submission_guide_note", note=n) for n in notes]
    if "general" in topics:
        buttons += _buttons_of(ctx, "portal_help_topics")
    ctx.frame_vars["view"] = "\n".join(lines)
    ctx.frame_vars["viewing"] = "stuck"
    ctx.extend_prompt(buttons=tuple(buttons))
    return "stuck"


def _intro(ctx: ActionContext, walk: Walkthrough) -> None:
    values = {**_procedure_values(walk.procedure), "total": len(walk.steps),
              "mode_label": ctx.text(f"online_submission_mode_{walk.mode}_label")}
    ctx.say("online_submission_intro_generic" if walk.generic else "online_submission_intro", **values)


@registry.register("start_walkthrough")
def start_walkthrough(ctx: ActionContext) -> str:
    """Says what the walkthrough is (and that it is generic, with its source) and shows step 1."""
    walk = walkthrough(ctx)
    _intro(ctx, walk)
    ctx.frame_vars["ticks"] = _ticks(ctx, walk)
    return _show_step(ctx, walk, 0)


def _command(ctx: ActionContext) -> dict[str, Any] | None:
    parse = ctx.parse
    if parse.intent == COMMAND_INTENT and parse.from_button:
        entities = parse.entities
        if "mode" in entities:
            return {"do": "mode", "mode": entities["mode"]}
        if entities.get("do") == "tick":
            return {"do": "tick", "items": [int(entities["item"])] if entities.get("item", "").isdigit() else []}
        return {"do": entities.get("do", "")}
    vocabulary = word_lists(ctx, "online_submission_words_", COMMAND_WORDS)
    command = read_command(parse.text, vocabulary) if not parse.from_button else None
    if command is not None and command["do"] == "tick" and not _at_checklist(ctx):
        command = None  # a number typed elsewhere is not about the checklist it cannot see
    if command is None and parse.intent == INTENT:
        # Another procedure named ("nộp hộ chiếu online thế nào?") or the menu button: start over.
        top = confident(_candidates(ctx))
        if parse.from_button or top is not None and top.code != ctx.frame_vars.get("code"):
            return {"do": "restart"}
    return command


def _at_checklist(ctx: ActionContext) -> bool:
    walk = walkthrough(ctx)
    return ctx.frame_vars.get("viewing") == "step" and walk.steps[_index(ctx, walk)].checklist and bool(walk.checklist)


@registry.register("read_walkthrough_answer")
def read_walkthrough_answer(ctx: ActionContext) -> str:
    """Reads the answer to a step: a button or typed words; anything else is left to other flows."""
    # A question asked now ("lệ phí bao nhiêu?") is about this procedure, whatever was talked about since.
    ctx.slots["procedure_code"] = ctx.frame_vars["code"]
    command = _command(ctx)
    if command is None:
        return "unclear"
    ctx.frame_vars["command"] = command
    return "valid"


def _tick(ctx: ActionContext, walk: Walkthrough, numbers: list[int]) -> None:
    ticks = _ticks(ctx, walk)
    wrong = [n for n in numbers if not 1 <= n <= len(ticks)]
    if wrong or not numbers:
        ctx.say("online_submission_tick_out_of_range", count=len(ticks))
        return
    for n in dict.fromkeys(numbers):
        ticks[n - 1] = not ticks[n - 1]
    ctx.frame_vars["ticks"] = ticks
    ticked = [n for n in dict.fromkeys(numbers) if ticks[n - 1]]
    unticked = [n for n in dict.fromkeys(numbers) if not ticks[n - 1]]
    if ticked:
        ctx.say("online_submission_ticked", numbers=_numbers(ticked))
    if unticked:
        ctx.say("online_submission_unticked", numbers=_numbers(unticked))


@registry.register("move_in_walkthrough")
def move_in_walkthrough(ctx: ActionContext) -> str:
    """Applies the answer: next, back, stuck, continue, tick, another path, start over or stop."""
    command = ctx.frame_vars.pop("command", {}) or {}
    do = command.get("do")
    if do == "restart":
        return "restart"
    if do == "stop":
        ctx.say("online_submission_stopped")
        return "stopped"
    if do == "mode" and command.get("mode") in (ctx.frame_vars.get("modes") or []):
        ctx.slots["online_submission_mode"] = command["mode"]
        walk = walkthrough(ctx)
        _intro(ctx, walk)
        return _show_step(ctx, walk, 0)
    walk = walkthrough(ctx)
    index = _index(ctx, walk)
    if do == "stuck":
        return _show_stuck(ctx, walk, index)
    if do == "tick":
        if not walk.checklist:
            ctx.say("online_submission_no_checklist")
        else:
            _tick(ctx, walk, command.get("items") or [])
        return _show_step(ctx, walk, index)
    if do == "back" and ctx.frame_vars.get("viewing") == "stuck":
        return _show_step(ctx, walk, index)  # back from the help to the step itself
    if do == "back":
        if index == 0:
            if len(ctx.frame_vars.get("modes") or []) > 1:
                return "choose_mode"
            ctx.say("online_submission_first_step")
        return _show_step(ctx, walk, max(index - 1, 0))
    if do == "next":
        if walk.steps[index].checklist and walk.checklist:
            missing = _missing(_ticks(ctx, walk))
            if missing:
                ctx.say("online_submission_missing_reminder", count=len(missing), numbers=_numbers(missing))
        if index + 1 >= len(walk.steps):
            return "finished"
        return _show_step(ctx, walk, index + 1)
    return _show_step(ctx, walk, index)  # "continue" after help, or a command this step has no use for


@registry.register("finish_walkthrough")
def finish_walkthrough(ctx: ActionContext) -> str:
    """Says where the dossier code is for the path taken and offers to track the dossier."""
    walk = walkthrough(ctx)
    ctx.say(f"online_submission_done_{walk.mode}", **_procedure_values(walk.procedure))
    return "done"


@registry.register("explain_no_online_submission")
def explain_no_online_submission(ctx: ActionContext) -> str:
    """Says the procedure cannot be submitted online or by post, with the guide's notes and the source."""
    procedure, guide = _procedure(ctx)
    notes = [ctx.text("online_submission_guide_note", note=n) for n in (guide.in_person_notes if guide else [])]
    ctx.say("online_submission_offline", notes="\n".join(notes), **_procedure_values(procedure))
    return "explained"
