"""Actions of the dossier_status flow after the code is well formed: the lookup within its limits,
"Có phải mã … không?", the second factor, the explanation with its timeline, and notices.

The dossier service (flows.services.DossierDesk) holds the limits and subscriptions; a bare
DossierProvider (lookup only) still works: no limits, no suggestions, no notices.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import date
from typing import Any

from flows.actions import registry
from flows.actions.desk import mobile_number
from flows.actions.dossier_status import SLOT, STILL_OPEN, today
from flows.engine import ActionContext
from flows.services import DOSSIER_STATUSES, DossierRecord, ProviderUnavailable
from knowledge import in_vietnam, vietnam_date

log = logging.getLogger(__name__)

DIGITS_SLOT = "dossier_status_digits"
CHOICE_SLOT = "dossier_status_choice"
CONTEXT_SLOT = "dossier_context"
FOLLOWUPS = {"dossier_followup_documents": "documents", "dossier_followup_time": "time",
             "dossier_followup_where": "where"}
MAX_DIGIT_TRIES = 3
# The timeline shows the newest changes; the rest is one tap away at the desk or the portal.
TIMELINE_STEPS = 5
_FOUR_DIGITS = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def _desk(ctx: ActionContext) -> Any:
    return getattr(ctx.services, "dossiers", None)


def _call(ctx: ActionContext, name: str, *args: Any, default: Any = None) -> Any:
    """A DossierDesk method when the provider has it (a bare provider only looks up)."""
    method = getattr(_desk(ctx), name, None)
    return method(*args) if method is not None else default


# What the provider answered in this turn, per code: one call per turn, however many steps need the record.
_turn = threading.local()


def _lookup(ctx: ActionContext, code: str) -> DossierRecord | None:
    """The provider's answer for `code`, asked once per turn (a turn is one parse, in one worker thread);
    ProviderUnavailable is remembered too, so a provider that is down costs its timeout once."""
    if getattr(_turn, "parse", None) is not ctx.parse:
        _turn.parse, _turn.answers = ctx.parse, {}
    answers: dict[str, DossierRecord | ProviderUnavailable | None] = _turn.answers
    if code not in answers:
        try:
            answers[code] = _desk(ctx).lookup(code)
        except ProviderUnavailable as e:
            answers[code] = e
    answer = answers[code]
    if isinstance(answer, ProviderUnavailable):
        raise answer
    return answer


def _status_label(ctx: ActionContext, record: DossierRecord) -> str:
    status = shown_status(record, today(ctx))
    if status in DOSSIER_STATUSES or status == "overdue":
        return ctx.text(f"dossier_status_label_{status}")
    return record.raw_status or record.status


@registry.register("lookup_dossier")
def lookup_dossier(ctx: ActionContext) -> str:
    """Looks the code up: found (status word, asks the 4 digits), verified, suggested, not_found, unavailable, refused."""
    code = str(ctx.slots.get(SLOT) or "")
    user = ctx.services.user_key
    if _desk(ctx) is None:
        log.warning("dossier lookup: no dossier provider is configured")
        ctx.say("dossier_status_unavailable")
        return "unavailable"
    if _call(ctx, "allow_lookup", user, code, default=True) is False:
        ctx.say("dossier_status_too_many_lookups", minutes=_call(ctx, "retry_after_minutes", default=60))
        return "refused"
    try:
        record = _lookup(ctx, code)
    except ProviderUnavailable as e:
        log.warning("dossier lookup: %s", e)
        _call(ctx, "record_lookup", user, code, "unavailable")
        ctx.say("dossier_status_unavailable")
        url = getattr(_desk(ctx), "portal_lookup_url", "")
        if url:
            ctx.say("dossier_status_portal_fallback", lookup_url=url)
        return "unavailable"
    if record is None:
        _call(ctx, "record_lookup", user, code, "not_found")
        suggestions = [] if ctx.frame_vars.get("suggested") else _suggest(ctx, code)
        if len(suggestions) == 1:
            ctx.frame_vars.update(suggested=True, suggestion=suggestions[0], typed=code)
            ctx.slots.pop(CHOICE_SLOT, None)
            return "suggested"
        ctx.say("dossier_status_not_found", code=code)
        return "not_found"
    _call(ctx, "record_lookup", user, code, "found")
    ctx.frame_vars.update(status_label=_status_label(ctx, record), code=record.code, digit_tries=0)
    if not record.holder_digits or _call(ctx, "is_verified", user, record.code, default=False):
        return "verified"  # nothing to check against (a desk's own table without digits), or checked lately
    ctx.slots.pop(DIGITS_SLOT, None)
    return "found"


def _suggest(ctx: ActionContext, code: str) -> list[str]:
    try:
        return list(_call(ctx, "suggest", code, default=[]) or [])
    except ProviderUnavailable:
        return []


@registry.register("take_suggestion_answer")
def take_suggestion_answer(ctx: ActionContext) -> str:
    """"Đúng rồi" puts the suggested code in the slot; "Không phải" (or a new code) asks for the code again."""
    intent = ctx.parse.intent
    if intent == "affirm":
        ctx.frame_vars.pop("joined", None)
        ctx.slots[SLOT] = ctx.frame_vars.get("suggestion", "")
        ctx.value = "yes"
        return "valid"
    if intent == "deny":
        ctx.slots.pop(SLOT, None)
        ctx.frame_vars["code_problem"] = (ctx.text("dossier_status_joined_denied") if ctx.frame_vars.pop("joined", False)
                                          else ctx.text("dossier_status_not_found_short", code=ctx.frame_vars.get("typed", "")))
        ctx.value = "no"
        return "valid"
    return "not_an_answer"


@registry.register("check_dossier_digits")
def check_dossier_digits(ctx: ActionContext) -> str:
    """The last 4 digits of the applicant's ID number or phone: valid (slot ok / wrong / gave_up) or not_digits."""
    found = _FOUR_DIGITS.findall(ctx.parse.text) or [d[-4:] for d in re.findall(r"\d{5,}", ctx.parse.text)]
    if not found or ctx.parse.from_button:
        return "not_digits"
    code = str(ctx.slots.get(SLOT) or "")
    user = ctx.services.user_key
    if _call(ctx, "allow_digits", user, code, default=True) is False:
        ctx.value = "gave_up"  # too many wrong guesses for this code: the status word only
        return "valid"
    try:
        record = _lookup(ctx, code)
    except ProviderUnavailable:
        ctx.value = "gave_up"
        return "valid"
    if record is not None and found[-1] in record.holder_digits:
        _call(ctx, "record_lookup", user, code, "verified")
        ctx.value = "ok"  # the slot never keeps the digits themselves
        return "valid"
    _call(ctx, "record_lookup", user, code, "digits_wrong")
    tries = int(ctx.frame_vars.get("digit_tries", 0)) + 1
    ctx.frame_vars["digit_tries"] = tries
    ctx.value = "gave_up" if tries >= MAX_DIGIT_TRIES else "wrong"
    return "valid"


@registry.register("dossier_digits_result")
def dossier_digits_result(ctx: ActionContext) -> str:
    """wrong (the slot emptied, so the digits are asked again) or ok / gave_up (the details step decides)."""
    result = str(ctx.slots.get(DIGITS_SLOT) or "")
    if result == "wrong":
        ctx.slots.pop(DIGITS_SLOT, None)
    return result or "wrong"


@registry.register("show_dossier_details")
def show_dossier_details(ctx: ActionContext) -> str:
    """The full explanation and timeline once verified; only the status after 3 misses; subscribe when asked."""
    code = str(ctx.slots.get(SLOT) or "")
    if ctx.slots.get(DIGITS_SLOT) == "gave_up":
        url = getattr(_desk(ctx), "portal_lookup_url", "") or "https://dichvucong.gov.vn"
        ctx.say("dossier_status_digits_gave_up", lookup_url=url)
        return "done"
    try:
        record = _lookup(ctx, code)
    except ProviderUnavailable as e:
        log.warning("dossier details: %s", e)
        ctx.say("dossier_status_unavailable")
        return "unavailable"
    if record is None:
        ctx.say("dossier_status_not_found", code=code)
        return "not_found"
    explain_dossier(ctx, record)
    ctx.slots[CONTEXT_SLOT] = record.code  # "cần bổ sung gì", "bao giờ xong" are about it now
    if record.procedure_code:
        ctx.slots["procedure_code"] = record.procedure_code
    return "subscribe" if ctx.frame_vars.get("subscribe") else "done"


@registry.register("subscribe_dossier")
def subscribe_dossier(ctx: ActionContext) -> str:
    """Subscribes the person to the dossier's changes; on Zalo without a phone, asks for one (consent)."""
    code = str(ctx.slots.get(SLOT) or "")
    if getattr(_desk(ctx), "subscribe", None) is None:
        ctx.say("dossier_status_unavailable")
        return "unavailable"
    try:
        record = _lookup(ctx, code)
    except ProviderUnavailable:
        record = None
    new = _desk(ctx).subscribe(ctx.services.user_key, code, record.status if record else "")
    ctx.say("dossier_status_subscribed" if new else "dossier_status_already_subscribed", code=code)
    if _call(ctx, "needs_phone", ctx.services.user_key, default=False):
        ctx.say("dossier_status_offer_phone")
    return "subscribed" if new else "already"


@registry.register("take_notice_phone")
def take_notice_phone(ctx: ActionContext) -> str:
    """A mobile number given for template messages: stored with consent (84…), the slot keeps it masked."""
    national = None if ctx.parse.from_button else mobile_number(ctx.parse.text)
    if national is None:
        return "not_a_phone"
    _call(ctx, "save_phone", ctx.services.user_key, "84" + national[1:])
    masked = f"{national[:3]}*****{national[-2:]}"
    ctx.value = masked
    ctx.say("dossier_status_phone_saved", phone_masked=masked)
    return "valid"


@registry.register("unsubscribe_dossier")
def unsubscribe_dossier(ctx: ActionContext) -> str:
    """/huytheodoi: stops notices about the dossier on the button, or about all the person follows."""
    code = ctx.parse.entities.get("dossier_code") or None
    count = _call(ctx, "unsubscribe", ctx.services.user_key, code, default=0)
    ctx.say("dossier_status_unsubscribed" if count else "dossier_status_nothing_to_unsubscribe", count=count)
    return "done" if count else "none"


@registry.register("answer_dossier_followup")
def answer_dossier_followup(ctx: ActionContext) -> str:
    """Answers "cần bổ sung gì" / "bao giờ xong" / "nộp bổ sung ở đâu" about the dossier last shown in full."""
    code = str(ctx.slots.get(CONTEXT_SLOT) or "")
    topic = FOLLOWUPS.get(ctx.parse.intent or "", "documents")
    if not code or _desk(ctx) is None or not _call(ctx, "is_verified", ctx.services.user_key, code, default=True):
        ctx.say("dossier_status_followup_no_dossier")
        return "no_dossier"
    try:
        record = _lookup(ctx, code)
    except ProviderUnavailable:
        ctx.say("dossier_status_unavailable")
        return "unavailable"
    if record is None:
        ctx.say("dossier_status_followup_no_dossier")
        return "no_dossier"
    day = today(ctx)
    values = {"code": record.code, "status_label": _status_label(ctx, record), "procedure_code": record.procedure_code or "",
              "note": record.note or ctx.text("dossier_status_no_note"), "due": _day(record.due_on) or "?"}
    if topic == "documents":
        ctx.say("dossier_status_followup_documents" if record.status == "supplement_required"
                else "dossier_status_followup_documents_none", **values)
    elif topic == "time":
        if record.status not in STILL_OPEN + ("registered", "supplement_required", "payment_required"):
            time_note = ctx.text("dossier_status_followup_time_done")
        elif record.due_on is None:
            time_note = ""
        elif record.due_on > day:
            time_note = ctx.text("dossier_status_followup_time_left", days=(record.due_on - day).days)
        elif record.due_on == day:
            time_note = ctx.text("dossier_status_followup_time_today")
        else:
            time_note = ctx.text("dossier_status_followup_time_late", days=(day - record.due_on).days)
        ctx.say("dossier_status_followup_time", time_note=time_note, **values)
    else:
        ctx.say("dossier_status_followup_where", **values)
    return topic


# -- the explanation


def _day(value: date | None) -> str | None:
    return value.strftime("%d/%m/%Y") if value else None


def _contact(ctx: ActionContext) -> str:
    contact: dict[str, str] = getattr(ctx.services, "contact", None) or {}
    hotline, hours = contact.get("hotline", "").strip(), contact.get("hours", "").strip()
    if hotline and hours:
        return ctx.text("dossier_status_contact_full", hotline=hotline, hours=hours)
    if hotline:
        return ctx.text("dossier_status_contact_hotline", hotline=hotline)
    return ctx.text("dossier_status_contact_none")


def _procedure_name(ctx: ActionContext, record: DossierRecord) -> str:
    """The name the provider gave, else the catalog's name for its procedure code."""
    if record.procedure_name.strip():
        return record.procedure_name.strip()
    knowledge = getattr(ctx.services, "knowledge", None)
    procedure = knowledge.get(record.procedure_code) if knowledge is not None and record.procedure_code else None
    return procedure.name if procedure is not None else ""


def shown_status(record: DossierRecord, today: date) -> str:
    """The status to explain: the provider's, except a still-open dossier past its due day is overdue."""
    if record.status in STILL_OPEN and record.due_on is not None and record.due_on < today:
        return "overdue"
    return record.status


def timeline(ctx: ActionContext, record: DossierRecord) -> str:
    """The newest changes, oldest first, one line each: time, status, the office's note."""
    if len(record.history) < 2:
        return ""
    lines = [ctx.text("dossier_status_timeline_head")]
    for step in record.history[-TIMELINE_STEPS:]:
        when = in_vietnam(step.at).strftime("%d/%m %H:%M")
        label = ctx.text(f"dossier_status_label_{step.status}") if step.status in DOSSIER_STATUSES else step.status
        note = step.note if len(step.note) <= 80 else step.note[:77] + "…"
        lines.append(ctx.text("dossier_status_timeline_line", when=when, status_label=label,
                              note_part=f" ({note})" if note else ""))
    return "\n".join(lines)


def explain_dossier(ctx: ActionContext, record: DossierRecord) -> None:
    """Says the dossier's procedure, dates and status in plain words with the next thing to do."""
    status = shown_status(record, today(ctx))
    known = status in DOSSIER_STATUSES or status == "overdue"
    unknown = ctx.text("dossier_status_value_unknown")
    note = record.note.strip()
    updated = vietnam_date(record.updated_at) if record.updated_at is not None else None
    values: dict[str, Any] = {
        "code": record.code,
        "procedure_name": _procedure_name(ctx, record) or unknown,
        "received": _day(record.received_on) or unknown,
        "due": _day(record.due_on) or unknown,
        "updated": _day(updated) or unknown,
        "status_label": ctx.text(f"dossier_status_label_{status}") if known else (record.raw_status or record.status),
        "note": note or ctx.text("dossier_status_no_note"),
        "note_line": ctx.text("dossier_status_note_line", note=note) if note else "",
        "contact": _contact(ctx),
    }
    explanation = ctx.text(f"dossier_status_explain_{status}" if known else "dossier_status_explain_other", **values)
    ctx.say("dossier_status_found", explanation=explanation, timeline=timeline(ctx, record), **values)
