"""Actions that find the procedure a user means and answer, from its catalog record, every aspect asked.

An answer fits one phone screen (flows.actions.answers.compose): the common case first, the rest
behind buttons that send `/ask_procedure{"procedure": <code>, "aspect": <aspect>, "part": ...}`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flows.actions import registry
from flows.actions.answers.compose import SCREEN_CHARS, Section, clip, pack
from flows.actions.answers.sections import BUILDERS
from flows.engine import ActionContext
from flows.replies import Button, Link, Reply
from flows.responses import intent_payload
from knowledge import (
    MENTIONED,
    NAME_CHARS,
    distinct_names,
    fold,
    how_it_differs,
    link_decision,
    normal_code,
    shorten,
    vietnam_date,
)
from nlu.acts import ASPECT_OF_INTENT, ASPECTS
from nlu.acts import QUESTION_INTENT as ASK_INTENT
from nlu.result import ProcedureMatch

# A runner-up `ask_*` intent at least this confident is a second question in the same message.
SECOND_QUESTION = 0.1
# Whether the linked procedures name one (confident), offer a choice (ambiguous) or none (weak)
# is knowledge.link_decision: one rule for search, the flows and the benchmarks.
CANDIDATES = 4
OFFICIAL_NAME_CHARS = 160
# The least room a page of lines gets (a sentence longer than this is split between pages).
MIN_PAGE = 60
# A form code as people type it: CT01, ct01, DC02, TK1-TS, ĐKX10.
_TYPED_FORM_CODE = re.compile(r"(?<![\w/])([A-Za-zĐđ]{1,5}\d{1,3}[a-z]?(?:-[A-Za-z0-9]{1,6})*)(?![\w/])")


def _candidates(ctx: ActionContext) -> list[ProcedureMatch]:
    """Ranked procedures for this message: a button's code, else what the NLU linked."""
    code = ctx.parse.entities.get("procedure")
    procedure = ctx.services.knowledge.get(code) if code else None
    if procedure is not None:
        return [ProcedureMatch(procedure.code, procedure.name, 1.0)]
    return list(ctx.parse.procedures)


def _names(knowledge: Any, codes: list[str]) -> list[str]:
    procedures = [knowledge.get(c) for c in codes]
    return distinct_names(procedures, [knowledge.guide(c) for c in codes])


def choice_buttons(
    hits: list[ProcedureMatch], intent: str, knowledge: Any = None, aspects: list[str] | None = None
) -> tuple[Button, ...]:
    """One button per candidate procedure, titled by its short distinct name.

    With `aspects`, pressing it asks those aspects (`/ask_procedure`); else it sends `intent`.
    """
    hits = hits[:CANDIDATES]
    if knowledge is not None:
        titles = _names(knowledge, [h.code for h in hits])
    else:  # without the knowledge at hand: shortened names, told apart by code when they collide
        short = [shorten(h.name) for h in hits]
        titles = [shorten(t, 49) + f" ({h.code})" if short.count(t) > 1 else t for t, h in zip(short, hits)]
    if aspects:
        return tuple(Button(t, intent_payload(ASK_INTENT, {"procedure": h.code, "aspect": ",".join(aspects)}))
                     for t, h in zip(titles, hits))
    return tuple(Button(t, intent_payload(intent, {"procedure": h.code})) for t, h in zip(titles, hits))


def decide(hits: list[ProcedureMatch]) -> str:
    """confident, ambiguous or weak: see knowledge.link_decision."""
    return link_decision([h.score for h in hits])


def asked_aspects(ctx: ActionContext) -> list[str]:
    """The aspects asked: a button's, else the NLU's, else the one its `ask_*` intent implies."""
    entity = ctx.parse.entities.get("aspect")
    if entity:
        return [a for a in entity.split(",") if a in ASPECTS]
    aspects = [a for a in getattr(ctx.parse, "aspects", None) or [] if a in ASPECTS]
    if aspects:
        return list(dict.fromkeys(aspects))
    implied = ASPECT_OF_INTENT.get(ctx.parse.intent or "")
    if not implied:
        return []
    # Two questions in one message split the classifier between two `ask_*` intents: answer both.
    second = [ASPECT_OF_INTENT[name] for name, confidence in ctx.parse.ranking[1:3]
              if name in ASPECT_OF_INTENT and confidence >= SECOND_QUESTION and ASPECT_OF_INTENT[name] != implied]
    return [implied, *second[:1]]


def _typed_forms(ctx: ActionContext) -> tuple[str, list[str]]:
    """A form code typed in the message ("mẫu CT01") and the procedures whose documents use it."""
    if ctx.parse.from_button:
        return "", []
    for match in _TYPED_FORM_CODE.finditer(ctx.parse.text):
        code = normal_code(match.group(1))
        users = ctx.services.knowledge.procedures_with_form(code)
        if users:
            return code, users
    return "", []


def _choose(ctx: ActionContext, hits: list[ProcedureMatch]) -> str:
    """found (slot set), ambiguous (buttons shown) or not_found."""
    decision = decide(hits)
    if decision == "weak":
        return "not_found"
    if decision == "confident":
        ctx.slots["procedure_code"] = hits[0].code
        ctx.frame_vars["variants"] = _variants(ctx, hits)
        return "found"
    knowledge = ctx.services.knowledge
    aspects = (ctx.slots.get("procedure_aspect") or "documents").split(",")
    shown = hits[:CANDIDATES]
    names = _names(knowledge, [h.code for h in shown])
    lines = [ctx.text("choice_line", number=i, name=name, level=_levels(ctx, knowledge.get(h.code)))
             for i, (name, h) in enumerate(zip(names, shown), 1)]
    ctx.slots["procedure_question"] = ctx.frame_vars.get("asked") or (ctx.parse.text if not ctx.parse.from_button else "")
    ctx.say_with_buttons("procedure_info_choose_aspect", choice_buttons(shown, ASK_INTENT, knowledge, aspects),
                         choices="\n".join(lines), aspect=_aspect_words(ctx, aspects))
    return "ambiguous"


def _variants(ctx: ActionContext, hits: list[ProcedureMatch]) -> list[str]:
    """The look-alikes of the procedure answered that the message also fits (its other cases: "lại",
    "có yếu tố nước ngoài", another level), offered one tap away; none when a button chose it."""
    if ctx.parse.from_button:
        return []
    plausible = [h.code for h in hits[1:] if h.score >= MENTIONED]
    return ctx.services.knowledge.look_alikes(hits[0].code, plausible)


def _show_variants(ctx: ActionContext, code: str, variants: list[str]) -> None:
    """Lists the other cases of a procedure, each with how it differs, as buttons that answer the aspect asked."""
    knowledge = ctx.services.knowledge
    common = knowledge.get(code)
    shown = [p for c in variants if (p := knowledge.get(c)) is not None][:CANDIDATES]
    aspects = (ctx.slots.get("procedure_aspect") or "documents").split(",")
    names = _names(knowledge, [p.code for p in shown])
    lines, buttons = [], []
    for number, (procedure, name) in enumerate(zip(shown, names), 1):
        difference = how_it_differs(procedure, common)
        said = fold(difference) in fold(name)  # the short name says it already: "… (cấp xã)"
        lines.append(ctx.text("choice_line_plain" if said else "variant_line", number=number, name=name,
                              difference=difference))
        title = name if said else ctx.text("variant_button", name=shorten(name, NAME_CHARS - len(difference) - 3),
                                           difference=difference)
        buttons.append(Button(title, intent_payload(ASK_INTENT, {"procedure": procedure.code, "aspect": ",".join(aspects)})))
    ctx.say_with_buttons("procedure_info_variants", tuple(buttons), name=_names(knowledge, [code])[0],
                         choices="\n".join(lines), aspect=_aspect_words(ctx, aspects))


def _levels(ctx: ActionContext, procedure: Any) -> str:
    return ", ".join(ctx.text(f"level_short_{lv}") for lv in procedure.levels) or ctx.text("level_short_khac")


def _aspect_words(ctx: ActionContext, aspects: list[str]) -> str:
    # The replies' texts are trimmed: the joining word gets its spaces here ("nơi nộp và thời gian").
    return f' {ctx.text("aspect_and").strip()} '.join(ctx.text(f"aspect_name_{a}") for a in aspects)


@registry.register("resolve_procedure")
def resolve_procedure(ctx: ActionContext) -> str:
    """Finds the procedure the question is about: named now, by a form code, or the one talked about before."""
    aspects = asked_aspects(ctx)
    form_code, users = _typed_forms(ctx)
    if form_code:  # "tải mẫu CT01 ở đâu": where to get the form, not where to submit
        aspects = ["forms", *[a for a in aspects if a not in ("forms", "documents", "where")]]
    ctx.slots["procedure_aspect"] = ",".join(aspects) or ctx.slots.get("procedure_aspect") or "documents"
    ctx.frame_vars["form_code"] = form_code
    # The question's own words decide a yes/no: a procedure picked from a choice answers the question asked
    # before the choice, any other button a question of its own.
    waiting = ctx.slots.pop("procedure_question", None)
    ctx.frame_vars["asked"] = ctx.parse.text if not ctx.parse.from_button else (
        waiting or "" if ctx.parse.entities.get("procedure") else "")
    variants = ctx.parse.entities.get("variants") if ctx.parse.from_button else None
    code = ctx.parse.entities.get("procedure")
    if variants and code and ctx.services.knowledge.get(code) is not None:  # "Thủ tục gần giống (N)" pressed
        _show_variants(ctx, code, [c for c in variants.split(",") if c != code])
        return "ambiguous"
    hits = _candidates(ctx)
    if form_code:
        # The procedure named besides the code ("mẫu CT01 đăng ký thường trú"), else the usual one of the
        # form's users; a look-alike the linker found through the code itself ("CT07") does not count.
        rest = _TYPED_FORM_CODE.sub(" ", ctx.parse.text)
        named = ctx.services.knowledge.search(rest, k=3)
        confident = named and link_decision([h.score for h in named]) == "confident" and named[0].code in users
        ctx.slots["procedure_code"] = named[0].code if confident else users[0]
        return "found"
    if decide(hits) != "weak":
        return _choose(ctx, hits)
    if ctx.slots.get("procedure_code"):  # "thế lệ phí bao nhiêu?" right after asking about one
        return "found"
    return "not_found"


@registry.register("resolve_procedure_from_answer")
def resolve_procedure_from_answer(ctx: ActionContext) -> str:
    """Validates the typed procedure name: found, ambiguous (buttons) or not_found."""
    ctx.slots["procedure_info_query"] = str(ctx.value)
    status = _choose(ctx, _candidates(ctx))
    if status == "not_found":
        ctx.frame_vars["query"] = str(ctx.value)[:80]
        return "not_found"
    return "valid"


def today(ctx: ActionContext) -> date:
    """The local date of this turn, from the engine's clock (tests pass a fixed one)."""
    return vietnam_date(ctx.now)


def _part_button(ctx: ActionContext, code: str, aspect: str, part: str, to_page: int, key: str, **values: Any) -> Button:
    entities = {"procedure": code, "aspect": aspect, "part": part}
    if to_page > 1:
        entities["page"] = str(to_page)
    return Button(ctx.text(key, **values), intent_payload(ASK_INTENT, entities))


def _section(ctx: ActionContext, procedure: Any, guide: Any, aspect: str, part: str, page: int, budget: int) -> Section:
    """One aspect's head, the lines of the asked page that fit `budget`, and buttons to the rest."""
    lines, more = BUILDERS[aspect](
        ctx.text, procedure=procedure, guide=guide, part=part, today=today(ctx),
        asked=ctx.frame_vars.get("asked") or "",
        asked_codes=(ctx.frame_vars.get("form_code"),) if ctx.frame_vars.get("form_code") else (),
    )
    head = ctx.text(f"procedure_info_head_{aspect}" + ("" if part == "main" else f"_{part}"),
                    today=today(ctx).strftime("%d/%m/%Y"))
    form_code = ctx.frame_vars.get("form_code")
    if aspect == "forms" and form_code and part == "main":
        users = ctx.services.knowledge.procedures_with_form(form_code)
        others = [c for c in users if c != procedure.code][:2]
        if others:
            more.setdefault("tail", []).insert(0, ctx.text("form_used_by", code=form_code, count=len(users),
                                                          names="; ".join(_names(ctx.services.knowledge, others))))
    section = Section(aspect, head, tail=list(more.get("tail") or []))
    if not lines:
        section.lines = [ctx.text("procedure_info_no_conditions" if aspect == "conditions" else "procedure_info_missing_fact")]
        return section
    # Room for the head and for the "(còn tiếp …)" line a cut page ends with.
    reserved = len(head) + len(ctx.text("procedure_info_more_lines", count=0)) + sum(len(t) + 1 for t in section.tail) + 2
    room = max(budget - reserved, MIN_PAGE)
    if part == "main":  # a first screen shortens an item (the full view has it whole) rather than split it
        lines = [clip(line, room) for line in lines]
    pages = pack(lines, room)
    page = min(max(page, 1), len(pages))
    section.lines = pages[page - 1]
    if page < len(pages):
        left = sum(len(p) for p in pages[page:])
        section.tail.insert(0, ctx.text("procedure_info_more_lines", count=left))
        section.buttons.append(_part_button(ctx, procedure.code, aspect, part, page + 1, "button_next_page",
                                            next=page + 1, pages=len(pages)))
    if more.get("cases"):
        section.buttons.append(_part_button(ctx, procedure.code, aspect, "cases", 1, "button_cases", count=more["cases"]))
    if more.get("all") or (part == "main" and len(pages) > 1):
        section.buttons.append(_part_button(ctx, procedure.code, aspect, "all", 1, "button_full"))
    return section


def _aspect_buttons(ctx: ActionContext, code: str, answered: list[str]) -> list[Button]:
    buttons = ctx.responses.render("procedure_info_aspect_buttons", procedure_code=code)[0].buttons
    return [b for b in buttons if not any(f'"aspect":"{a}"' in b.payload for a in answered)]


@registry.register("answer_procedure_aspect")
def answer_procedure_aspect(ctx: ActionContext) -> str:
    """Answers every aspect asked in one screen, cites the source, offers the rest and the other aspects."""
    knowledge = ctx.services.knowledge
    procedure = knowledge.get(ctx.slots["procedure_code"])
    guide = knowledge.guide(procedure.code)
    aspects = [a for a in (ctx.slots.get("procedure_aspect") or "documents").split(",") if a in BUILDERS] or ["documents"]
    part = ctx.parse.entities.get("part", "main") if ctx.parse.from_button else "main"
    part = part if part in ("main", "cases", "all") else "main"
    try:
        page = int(ctx.parse.entities.get("page", "1")) if ctx.parse.from_button else 1
    except ValueError:
        page = 1
    name = distinct_names([procedure], [guide])[0]
    header = ctx.text("procedure_info_header", name=name)
    source = ctx.text("procedure_info_source", official_name=clip(procedure.name, OFFICIAL_NAME_CHARS),
                      procedure_code=procedure.code, catalog_date=procedure.catalog_date)
    room = SCREEN_CHARS - len(header) - len(source) - 2 * (len(aspects) + 1)
    budgets = [room // len(aspects)] * len(aspects)
    sections = [_section(ctx, procedure, guide, a, part, page, b) for a, b in zip(aspects, budgets)]
    # Room a short part leaves goes to the parts that were cut to their share, first asked first.
    for i in range(len(sections) if len(sections) > 1 else 0):
        spare = room - sum(s.size() for s in sections)
        if spare <= 0:
            break
        wider = _section(ctx, procedure, guide, aspects[i], part, page, budgets[i] + spare)
        if sections[i].size() < wider.size() <= sections[i].size() + spare:
            budgets[i], sections[i] = budgets[i] + spare, wider
    # A section whose fixed lines (head, tail) leave little room may still overflow: give it less.
    for _ in range(3):
        overflow = sum(s.size() for s in sections) - room
        if overflow <= 0:
            break
        largest = max(range(len(sections)), key=lambda i: sections[i].size())
        budgets[largest] -= overflow
        sections[largest] = _section(ctx, procedure, guide, aspects[largest], part, page, budgets[largest])
    blocks = ["\n".join([s.head, *s.lines, *s.tail]) for s in sections]
    text = "\n\n".join([header, *blocks, source])
    buttons = [b for s in sections for b in s.buttons]
    if len(sections) > 1:  # say which aspect each "Xem đầy đủ" opens
        buttons = [Button(ctx.text("button_of_aspect", aspect=ctx.text(f"aspect_name_{s.aspect}"), title=b.title), b.payload)
                   for s in sections for b in s.buttons]
    variants = ctx.frame_vars.get("variants") or []
    if variants:  # the other cases the message fits, one tap away
        buttons.append(Button(ctx.text("button_variants", count=len(variants)), intent_payload(
            ASK_INTENT, {"procedure": procedure.code, "aspect": ",".join(aspects), "variants": ",".join(variants)})))
    buttons += _aspect_buttons(ctx, procedure.code, aspects)
    links = [Link(ctx.text("procedure_info_source_link"), procedure.source_url)]
    ctx.reply(Reply(text=text, buttons=tuple(buttons), links=tuple(links)))
    return "answered"
