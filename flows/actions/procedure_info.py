"""Actions that find the procedure a user means and answer from its catalog record."""

from __future__ import annotations

from typing import Any

from flows.actions import registry
from flows.engine import ActionContext
from flows.replies import Button
from flows.responses import intent_payload
from knowledge import link_decision
from nlu.result import ProcedureMatch

# Which part of the record each question is about.
ASPECT_OF_INTENT = {
    "ask_documents": "documents",
    "ask_fee": "fee",
    "ask_processing_time": "time",
    "ask_where": "where",
    "ask_conditions": "conditions",
    "ask_result": "result",
    "ask_legal_basis": "legal",
    "ask_postal": "postal",
}
# Whether the linked procedures name one (confident), offer a choice (ambiguous) or none (weak)
# is knowledge.link_decision: one rule for search, the flows and the benchmarks.
CANDIDATES = 4
MAX_ITEMS = 12


def _candidates(ctx: ActionContext) -> list[ProcedureMatch]:
    """Ranked procedures for this message: a button's code, else what the NLU linked."""
    code = ctx.parse.entities.get("procedure")
    procedure = ctx.services.knowledge.get(code) if code else None
    if procedure is not None:
        return [ProcedureMatch(procedure.code, procedure.name, 1.0)]
    return list(ctx.parse.procedures)


def choice_buttons(hits: list[ProcedureMatch], intent: str) -> tuple[Button, ...]:
    """One button per candidate procedure; pressing it asks `intent` about that procedure."""
    return tuple(Button(h.name[:60], intent_payload(intent, {"procedure": h.code})) for h in hits[:CANDIDATES])


def decide(hits: list[ProcedureMatch]) -> str:
    """confident, ambiguous or weak: see knowledge.link_decision."""
    return link_decision([h.score for h in hits])


def _choose(ctx: ActionContext, hits: list[ProcedureMatch]) -> str:
    """found (slot set), ambiguous (buttons shown) or not_found."""
    decision = decide(hits)
    if decision == "weak":
        return "not_found"
    if decision == "confident":
        ctx.slots["procedure_code"] = hits[0].code
        return "found"
    intent = ctx.parse.intent if ctx.parse.intent in ASPECT_OF_INTENT else "ask_documents"
    ctx.say_with_buttons("procedure_info_choose", choice_buttons(hits, intent))
    return "ambiguous"


@registry.register("resolve_procedure")
def resolve_procedure(ctx: ActionContext) -> str:
    """Finds the procedure the question is about: named now, or the one talked about before."""
    ctx.slots["procedure_aspect"] = ASPECT_OF_INTENT.get(ctx.parse.intent or "", ctx.slots.get("procedure_aspect") or "documents")
    hits = _candidates(ctx)
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


def _fee_text(ctx: ActionContext, fee: Any) -> str:
    if fee.kind == "free":
        value = ctx.text("fee_free")
    elif fee.kind == "amount":
        value = "; ".join(m.text for m in fee.amounts) or fee.label
    else:
        value = fee.label or ctx.text("fee_unknown")
    if fee.text:
        return ctx.text("fee_note", value=value, note=fee.text[:300])
    return value


def _time_text(ctx: ActionContext, time: Any) -> str:
    if time.value is None:
        return time.text or ctx.text("time_unknown")
    value = f"{time.value:g}"
    if time.unit is None:
        return ctx.text("time_no_unit", value=value)
    return ctx.text(f"unit_{time.unit}", value=value)


def _channel_lines(ctx: ActionContext, procedure: Any, describe: Any) -> list[str]:
    lines = []
    for channel in procedure.channels:
        lines.append(ctx.text("channel_line", channel=ctx.text(f"channel_{channel.kind}"), value=describe(channel)))
    return lines


def _document_lines(ctx: ActionContext, procedure: Any) -> list[str]:
    lines = []
    for doc in procedure.documents:
        if doc.quantity:
            quantity = ", ".join(ctx.text(f"quantity_{q.kind}", count=q.count) for q in doc.quantity)
        else:
            quantity = ctx.text("quantity_unknown")
        lines.append(ctx.text("document_line", name=doc.name.lstrip("-• ").strip(), quantity=quantity))
    return lines


def _items(ctx: ActionContext, aspect: str, procedure: Any) -> list[str]:
    if aspect == "documents":
        return _document_lines(ctx, procedure)
    if aspect == "fee":
        return _channel_lines(ctx, procedure, lambda c: _fee_text(ctx, c.fee))
    if aspect == "time":
        return _channel_lines(ctx, procedure, lambda c: _time_text(ctx, c.time))
    if aspect == "where":
        lines = []
        if procedure.agencies.implementing:
            lines.append(ctx.text("agency_line", value=procedure.agencies.implementing))
        if procedure.agencies.submission_address:
            lines.append(ctx.text("address_line", value=procedure.agencies.submission_address))
        if procedure.levels:
            lines.append(ctx.text("level_line", value="; ".join(ctx.text(f"level_{lv}") for lv in procedure.levels)))
        return lines
    if aspect == "conditions":
        return [ctx.text("item_line", text=c) for c in procedure.conditions]
    if aspect == "result":
        return [ctx.text("item_line", text=r) for r in procedure.result]
    if aspect == "legal":
        return [
            ctx.text("item_line", text=f"{ref.title} ({ref.number})" if ref.number else ref.title)
            for ref in procedure.legal_basis
        ]
    return []


@registry.register("answer_procedure_aspect")
def answer_procedure_aspect(ctx: ActionContext) -> str:
    """Answers the aspect asked from the record, cites its source, offers the other aspects."""
    procedure = ctx.services.knowledge.get(ctx.slots["procedure_code"])
    aspect = ctx.slots.get("procedure_aspect") or "documents"
    values = {
        "procedure_name": procedure.name,
        "procedure_code": procedure.code,
        "source_url": procedure.source_url,
        "catalog_date": procedure.catalog_date,
    }
    if aspect == "postal":
        answer = ctx.text("procedure_info_postal_yes" if procedure.channel("postal") else "procedure_info_postal_no")
        ctx.say("procedure_info_aspect_postal", answer=answer, **values)
    else:
        lines = _items(ctx, aspect, procedure)
        if not lines:
            key = "procedure_info_no_conditions" if aspect == "conditions" else "procedure_info_missing_fact"
            ctx.say(key, **values)
        else:
            shown = lines[:MAX_ITEMS]
            if len(lines) > MAX_ITEMS:
                shown.append(ctx.text("procedure_info_more_documents", count=len(lines) - MAX_ITEMS))
            ctx.say(f"procedure_info_aspect_{aspect}", items="\n".join(shown), **values)
    ctx.say("procedure_info_source", **values)
    return "answered"
