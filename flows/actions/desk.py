"""Actions for the desk flows: hand over to a person, rate the service, send a complaint, delete my data.

They reach the desk only through `ctx.services.desk` (flows.services.Desk); the bot
injects a database-backed one. Every sentence is in flows/responses/desk.yml; the
answers people may type instead of pressing a button are in desk_words.yml.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from flows.actions import registry
from flows.engine import ActionContext
from knowledge import fold_words
from nlu.dossier_code import find_dossier_codes

log = logging.getLogger(__name__)

WORDS_FILE = Path(__file__).resolve().parent / "desk_words.yml"
# Why a person was asked for; a button may say it with entities {reason: ...}.
HANDOVER_REASONS = ("request_human", "not_understood", "stuck", "unsatisfied")
# A complaint shorter than this is asked again (a word or two tells the desk nothing).
COMPLAINT_MIN_CHARS = 15
COMPLAINT_MIN_WORDS = 4
# The message that started the complaint flow is taken as the complaint when it is this long.
COMPLAINT_WORDS_IN_FIRST_MESSAGE = 10
# A short message the NLU is sure about is a question to answer (the engine digresses), not complaint
# text, when it is one of these requests or names what it asks about (a procedure, a dossier code).
# A longer one is a story: "nhân viên tiếp nhận nói năng cộc cằn với người dân" reads as request_human,
# and "hướng dẫn nộp trực tuyến khó hiểu quá" as ask_howto_online, yet both are complaints.
REQUEST_INTENTS = frozenset({"request_human", "rate_service", "greet", "help"})
QUESTION_INTENTS = frozenset({
    "ask_documents", "ask_fee", "ask_processing_time", "ask_where", "ask_conditions", "ask_result",
    "ask_legal_basis", "ask_howto_online", "ask_postal", "check_status", "subscribe_status", "portal_help",
})
QUESTION_CONFIDENCE = 0.8
QUESTION_MAX_WORDS = 8
NAMES_A_PROCEDURE = 0.55
# An NLU intent stands for a typed answer (affirm = "có") only when this sure.
ANSWER_CONFIDENCE = 0.6
# Slot values shown in a ticket summary are cut to this length.
SUMMARY_VALUE_CHARS = 80
# A Vietnamese mobile number: 0 or +84/84, then a mobile prefix (3, 5, 7, 8, 9) and 8 more digits.
_MOBILE = re.compile(r"(?<![\d+])(?:\+?84|0)([35789]\d{8})(?!\d)")
# Spaces, dots, dashes and brackets people type between the digits of a phone number.
_BETWEEN_DIGITS = re.compile(r"(?<=[\d)])[\s.\-()]+(?=[\d(])|(?<=\+84)[\s.\-()]+|\((?=\+?\d)|(?<=\d)\)")
# A run of 9 to 12 digits (ID number) or a phone number in a complaint: warn before it is sent.
_LONG_NUMBER = re.compile(r"(?<!\d)(?:\d[\s.-]?){8,11}\d(?!\d)")


@lru_cache(maxsize=1)
def answer_words() -> dict[str, Any]:
    """desk_words.yml, folded: {"fillers": set, group: {answer: {"words": set, "intents": set}}}."""
    raw = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8")) or {}
    words: dict[str, Any] = {"fillers": {fold_words(str(w)) for w in raw.pop("fillers", [])}}
    for group, answers in raw.items():
        words[group] = {
            answer: {
                "words": {fold_words(str(w)) for w in spec.get("words", [])},
                "intents": set(spec.get("intents", [])),
            }
            for answer, spec in answers.items()
        }
    return words


def _typed_answer(ctx: ActionContext, group: str) -> str | None:
    """The answer in `group` that the message means: a button's choice, a typed word, or an intent."""
    answers = answer_words()[group]
    choice = ctx.parse.entities.get("choice") or ctx.parse.entities.get("rating")
    if choice in answers:
        return str(choice)
    if ctx.parse.from_button:
        return None
    fillers = answer_words()["fillers"]
    said = " ".join(w for w in _words(ctx.parse.text) if w not in fillers)
    for answer, spec in answers.items():
        if said in spec["words"]:
            return str(answer)
    if ctx.parse.confidence >= ANSWER_CONFIDENCE:
        for answer, spec in answers.items():
            if ctx.parse.intent in spec["intents"]:
                return str(answer)
    return None


def _desk(ctx: ActionContext) -> Any:
    desk = ctx.services.desk
    if desk is None:
        log.error("no desk service: cannot store for %s", ctx.services.user_key)
    return desk


# -- handover -------------------------------------------------------------------------


def _contact(ctx: ActionContext) -> str:
    """The desk's hotline and hours from settings, or a polite note that they are not known."""
    hotline = (ctx.services.contact or {}).get("hotline", "").strip()
    hours = (ctx.services.contact or {}).get("hours", "").strip()
    if hotline and hours:
        return ctx.text("handover_contact_full", hotline=hotline, hours=hours)
    if hotline:
        return ctx.text("handover_contact_hotline", hotline=hotline)
    if hours:
        return ctx.text("handover_contact_hours", hours=hours)
    return ctx.text("handover_contact_none")


def _known(ctx: ActionContext, name: str, value: Any) -> str:
    """A slot as staff read it: its label (desk_slot_<slot>) and its value in words (desk_value_<slot>_<value>,
    else as typed); "" for a slot with no label (the flows' own bookkeeping, numbers kept elsewhere)."""
    if f"desk_slot_{name}" not in ctx.responses or isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    shown = str(value).strip()
    if not shown:
        return ""
    # An answer chosen from a list, or several ("documents,fee"), in words; anything typed, as typed (cut).
    worded = [f"desk_value_{name}_{part.strip()}" for part in shown.split(",")]
    if all(key in ctx.responses for key in worded):
        shown = ", ".join(ctx.responses.text(key) for key in worded)
    else:
        shown = shown[:SUMMARY_VALUE_CHARS]
    return ctx.responses.text("desk_summary_known", label=ctx.responses.text(f"desk_slot_{name}"), value=shown)


def _summary(ctx: ActionContext, reason: str) -> str:
    """What the person who picks the ticket up needs: why, which procedure, what the conversation knows."""
    lines = [ctx.text("desk_summary_reason", reason=ctx.text(f"desk_reason_{reason}"))]
    code = ctx.slots.get("procedure_code")
    procedure = ctx.services.knowledge.get(code) if code else None
    if procedure is not None:
        lines.append(ctx.text("desk_summary_procedure", procedure_name=procedure.name, procedure_code=procedure.code))
    known = [line for name, value in sorted(ctx.slots.items()) if (line := _known(ctx, name, value))]
    if known:
        lines.append(ctx.text("desk_summary_slots", slots="; ".join(known)))
    if not ctx.parse.from_button and ctx.parse.text.strip():
        lines.append(ctx.text("desk_summary_message", message=ctx.parse.text.strip()[:500]))
    return "\n".join(lines)


@registry.register("open_handover_ticket")
def open_handover_ticket(ctx: ActionContext) -> str:
    """Opens (or finds the open) ticket for the desk, then tells its number, the hotline and what comes next."""
    desk = _desk(ctx)
    if desk is None:
        ctx.say("handover_no_desk", contact=_contact(ctx))
        return "no_desk"
    reason = ctx.parse.entities.get("reason", "request_human")
    if reason not in HANDOVER_REASONS:
        reason = "request_human"
    ticket = desk.open_ticket(ctx.services.user_key, reason, _summary(ctx, reason))
    opening = desk.next_answer_at() if hasattr(desk, "next_answer_at") else None
    if opening is not None:  # outside the desk's schedule: say when, and offer a call back
        ctx.slots["handover_ticket"] = ticket
        ctx.frame_vars["when"] = _when(ctx, opening, desk.local_now())
        ctx.say("handover_after_hours", ticket=ticket, contact=_contact(ctx))
        return "after_hours"
    ctx.say("handover_opened", ticket=ticket, contact=_contact(ctx))
    return "opened"


def _when(ctx: ActionContext, opening: Any, now: Any) -> str:
    """"07:30 sáng mai", said the way a person would (both times are Vietnam time)."""
    days = (opening.date() - now.date()).days
    time_text = opening.strftime("%H:%M")
    if days == 0:
        return ctx.text("desk_when_today", time=time_text)
    if days == 1 and opening.hour < 12:
        return ctx.text("desk_when_tomorrow", time=time_text)
    return ctx.text("desk_when_later", time=time_text, date=opening.strftime("%d/%m"))


@registry.register("validate_callback_consent")
def validate_callback_consent(ctx: ActionContext) -> str:
    """Có / Không cần, pressed or typed."""
    answer = _typed_answer(ctx, "callback_consent")
    if answer is None:
        return "invalid"
    ctx.slots["handover_callback"] = answer
    return "valid"


def mobile_number(text: str) -> str | None:
    """The Vietnamese mobile number in a message, as 0xxxxxxxxx; None when there is none.

    0912 345 678, 0912.345.678, +84 912 345 678, (+84) 912-345-678 and 84912345678 all read the same;
    a landline, a number of the wrong length or a prefix no mobile network uses is no mobile number.
    The one reader of phone numbers for the desk's call-back and the dossier notices (ZNS).
    """
    match = _MOBILE.search(_BETWEEN_DIGITS.sub("", text))
    return "0" + match.group(1) if match else None


@registry.register("validate_callback_phone")
def validate_callback_phone(ctx: ActionContext) -> str:
    """A Vietnamese mobile number (0xxxxxxxxx or +84xxxxxxxxx), spaces and dots allowed."""
    phone = None if ctx.parse.from_button else mobile_number(ctx.parse.text)
    if phone is None:
        return "invalid"
    ctx.slots["handover_phone"] = phone
    return "valid"


@registry.register("save_callback_phone")
def save_callback_phone(ctx: ActionContext) -> str:
    """Keeps the number on the ticket for staff, and says so (the number shown partly hidden)."""
    desk = _desk(ctx)
    phone, ticket = ctx.slots.get("handover_phone", ""), ctx.slots.get("handover_ticket", "")
    if desk is None or not desk.set_callback(ctx.services.user_key, ticket, phone):
        ctx.say("desk_unavailable")
        return "not_saved"
    ctx.say("handover_callback_saved", phone=f"{phone[:3]}****{phone[-3:]}", ticket=ticket)
    return "saved"


# -- rating ---------------------------------------------------------------------------


@registry.register("validate_rating")
def validate_rating(ctx: ActionContext) -> str:
    """Takes Rất hài lòng / Hài lòng / Chưa hài lòng from a button or typed words."""
    rating = _typed_answer(ctx, "rating")
    if rating is None:
        return "invalid"
    ctx.slots["feedback_rating"] = rating
    return "valid"


@registry.register("validate_feedback_comment")
def validate_feedback_comment(ctx: ActionContext) -> str:
    """Takes the optional comment: typed text, "Bỏ qua", or a wish to talk to a person."""
    answer = _typed_answer(ctx, "comment")
    if answer == "skip":
        ctx.slots["feedback_comment"] = ""
        return "valid"
    if answer == "person":
        ctx.slots["feedback_comment"] = ""
        ctx.slots["feedback_wants_person"] = True
        return "valid"
    if ctx.parse.from_button:
        return "not_text"  # another button: the engine follows it, then offers to come back
    # Whatever is typed here is the comment, even when it reads like a question ("hướng dẫn khó hiểu quá").
    ctx.slots["feedback_comment"] = ctx.parse.text.strip()
    return "valid"


@registry.register("save_rating")
def save_rating(ctx: ActionContext) -> str:
    """Stores the rating at once, before the optional comment: a "thôi" there must not lose it."""
    desk = _desk(ctx)
    if desk is None:
        ctx.say("desk_unavailable")
        return "no_desk"
    desk.save_feedback(ctx.services.user_key, "rating", "", rating=ctx.slots["feedback_rating"])
    return "saved"


@registry.register("save_rating_comment")
def save_rating_comment(ctx: ActionContext) -> str:
    """Adds the comment, if any, to the rating just stored (the desk keeps them as one)."""
    comment = ctx.slots.get("feedback_comment") or ""
    desk = _desk(ctx)
    if not comment or desk is None:
        return "no_comment"
    desk.save_feedback(ctx.services.user_key, "rating", comment, rating=ctx.slots["feedback_rating"])
    return "saved"


# -- complaint (phản ánh, kiến nghị) -------------------------------------------------


def _words(text: str) -> list[str]:
    return fold_words(text).split()


def _is_question(ctx: ActionContext) -> bool:
    """A short message the NLU is sure is a request or a question about something named: answer it, not store it."""
    parse = ctx.parse
    if parse.confidence < QUESTION_CONFIDENCE or len(_words(parse.text)) > QUESTION_MAX_WORDS:
        return False
    names_something = bool(parse.entities) or any(p.score >= NAMES_A_PROCEDURE for p in parse.procedures[:1])
    return parse.intent in REQUEST_INTENTS or (parse.intent in QUESTION_INTENTS and names_something)


def _has_personal_number(text: str) -> bool:
    """An ID or phone number in the text; a dossier code (which the desk does need) does not count."""
    for start, end, _ in reversed(find_dossier_codes(text)):
        text = f"{text[:start]} {text[end:]}"
    return _LONG_NUMBER.search(text) is not None


def _keep_complaint(ctx: ActionContext, text: str) -> None:
    ctx.slots["complaint_text"] = text
    # Shown with the confirmation: an ID or phone number is best left out unless the desk needs it.
    warning = _has_personal_number(text)
    ctx.frame_vars["complaint_warning"] = "\n" + ctx.text("complaint_number_warning") if warning else ""


@registry.register("take_complaint_from_message")
def take_complaint_from_message(ctx: ActionContext) -> str:
    """A first message long enough to be the complaint itself is kept, so it is not asked for again."""
    ctx.frame_vars["complaint_warning"] = ""
    text = ctx.parse.text.strip()
    if not ctx.parse.from_button and len(_words(text)) >= COMPLAINT_WORDS_IN_FIRST_MESSAGE:
        _keep_complaint(ctx, text)
        return "taken"
    return "ask"


@registry.register("validate_complaint_text")
def validate_complaint_text(ctx: ActionContext) -> str:
    """Accepts the complaint text; too short, a button or a question is not one."""
    text = ctx.parse.text.strip()
    if ctx.parse.from_button or _is_question(ctx):
        return "not_text"
    if len(text) < COMPLAINT_MIN_CHARS or len(_words(text)) < COMPLAINT_MIN_WORDS:
        return "too_short"
    _keep_complaint(ctx, text)
    return "valid"


@registry.register("validate_complaint_choice")
def validate_complaint_choice(ctx: ActionContext) -> str:
    """Gửi, Sửa or Huỷ, pressed or typed."""
    choice = _typed_answer(ctx, "complaint_confirm")
    if choice is None:
        return "invalid"
    ctx.slots["complaint_choice"] = choice
    return "valid"


@registry.register("save_complaint")
def save_complaint(ctx: ActionContext) -> str:
    """Stores the complaint for the desk and tells its reference number."""
    desk = _desk(ctx)
    if desk is None:
        ctx.say("desk_unavailable")
        return "no_desk"
    reference = desk.save_feedback(ctx.services.user_key, "complaint", ctx.slots["complaint_text"])
    ctx.say("complaint_saved", reference=reference)
    return "saved"


# -- delete my data -----------------------------------------------------------------


@registry.register("validate_delete_choice")
def validate_delete_choice(ctx: ActionContext) -> str:
    """Xoá or Không, pressed or typed."""
    choice = _typed_answer(ctx, "delete_confirm")
    if choice is None:
        return "invalid"
    ctx.slots["delete_data_choice"] = choice
    return "valid"


@registry.register("forget_user_data")
def forget_user_data(ctx: ActionContext) -> str:
    """Deletes everything stored about the user and says how much went; what the conversation knew goes too."""
    desk = _desk(ctx)
    if desk is None:
        ctx.say("desk_unavailable")
        return "no_desk"
    removed = desk.forget_user(ctx.services.user_key)
    # Nothing is left to go back to: what the conversation knew and the flows it interrupted go too.
    ctx.slots.clear()
    ctx.drop_interrupted_flows()
    ctx.say("delete_data_done" if removed else "delete_data_nothing", count=removed)
    return "deleted" if removed else "nothing"
