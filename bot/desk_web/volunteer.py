"""Volunteers' tools: look a procedure up (the chat's own search and answers), print a one-page
checklist with a QR code that opens the web chat on it, and log the submissions they helped with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup
from sqlalchemy import case, func, select

from bot.desk_web.keys import assistant, audit_action, handover, settings
from bot.desk_web.render import note, page, redirect
from bot.desk_web.security import allow, me
from bot.handover import HandoverError
from bot.privacy import mask
from bot.storage.models import AssistedSubmission, utcnow
from bot.users import ROLES
from flows.replies import ChecklistItem, Reply
from knowledge import fee_on, fee_value, vietnam_date
from nlu.dossier_code import find_dossier_codes

routes = web.RouteTableDef()
METHODS = ("online", "postal", "in_person")
LOOKUP_CHANNEL = "desk"  # the volunteer's lookups run as turns of this channel (left out of the figures)
MAX_QUERY = 300
HITS = 8
SPECIAL_CASE = ("trường hợp", "đối với trường hợp", "nếu")
_CODE = re.compile(r"^[0-9A-Za-z.\-]{1,20}$")


@dataclass(frozen=True)
class ChecklistFee:
    channel: str
    fee: str


def _procedure(request: web.Request, code: str) -> Any:
    if not _CODE.match(code):
        raise web.HTTPNotFound()
    procedure = assistant(request).knowledge.get(code)
    if procedure is None:
        raise web.HTTPNotFound()
    return procedure


@routes.get("/lookup")
@allow(*ROLES)
async def lookup(request: web.Request) -> web.Response:
    """The procedures that match, and the assistant's own answer to the question as a citizen would get it."""
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    hits, replies = [], []
    if query:
        bot = assistant(request)
        if not query.startswith("/"):
            hits = bot.knowledge.search(query, k=HITS)
        turn = await bot.handle(LOOKUP_CHANNEL, f"tnv-{me(request).id}", query)
        replies = turn.replies
    return await page(request, "lookup.html", nav="lookup", query=query, hits=hits, replies=replies)


def chat_url(request: web.Request, code: str) -> str:
    """The web chat opened on this procedure (chat.js reads ?q=)."""
    base = settings(request).desk_public_url or f"{request.scheme}://{request.host}"
    return f"{base}/?q={code}"


@routes.get("/checklist/{code}")
@allow(*ROLES)
async def checklist(request: web.Request) -> web.Response:
    """One printable page: documents, the fee in force, where, steps, and a QR code to the chat."""
    procedure = _procedure(request, request.match_info["code"])
    responses = assistant(request).engine.responses
    documents, special = [], []
    for d in procedure.documents:
        if d.is_note:
            continue
        name = d.name.lstrip("-• ").strip()
        quantity = ", ".join(responses.text(f"quantity_{q.kind}", count=q.count) for q in d.quantity)
        # "Trường hợp ..." rows apply to some people only: listed apart, so the common case reads first.
        (special if name.lower().startswith(SPECIAL_CASE) else documents).append((name, quantity))
    # The fee in force today, said as the chat says it (expired amounts never shown as current).
    today = vietnam_date(utcnow())
    fees = [ChecklistFee(responses.text(f"channel_{c.kind}"), fee_value(responses.text, fee_on(c.fee, today, c.kind)))
            for c in procedure.channels]
    url = chat_url(request, procedure.code)
    qr = segno.make(url, error="m")
    # bandit B704: the SVG is segno's drawing of our own chat URL, no user markup.
    svg = qr.svg_inline(scale=4, dark="#000", omitsize=False, title="QR")
    audit_action(request, "print_checklist", procedure.code)
    return await page(request, "checklist.html", nav="lookup", p=procedure, documents=documents, special=special, fees=fees,
                      url=url, qr=Markup(svg), body_class="print-page")  # nosec B704


@routes.post("/checklist/{code}/send")
@allow(*ROLES)
async def send_checklist(request: web.Request) -> web.Response:
    """Sends the checklist into a citizen's chat, found by the ticket number they read out."""
    procedure = _procedure(request, request.match_info["code"])
    ticket = str((await request.post()).get("ticket", "")).strip()[:20]
    responses = assistant(request).engine.responses
    items = tuple(ChecklistItem(d.name.lstrip("-• ").strip()[:200]) for d in procedure.documents if not d.is_note)
    text = responses.text("desk_checklist_for_you", procedure_name=procedure.name, catalog_date=procedure.catalog_date)
    try:
        handover(request).send_to_ticket(ticket, me(request), [Reply(text=text, checklist=items[:15])], procedure.code)
    except HandoverError:
        await note(request, "error_no_ticket")
    else:
        await note(request, "checklist_sent")
    raise redirect(f"/desk/checklist/{procedure.code}")


@routes.get("/submissions")
@allow(*ROLES)
async def submissions(request: web.Request) -> web.Response:
    """The form to log a submission, and my own counts (all time and this month)."""
    store = assistant(request).store
    with store.session() as session:
        mine = session.execute(
            select(AssistedSubmission.method, func.count()).where(AssistedSubmission.account_id == me(request).id)
            .group_by(AssistedSubmission.method)
        ).all()
        everyone = session.execute(select(
            func.count(), func.sum(case((AssistedSubmission.method == "online", 1), else_=0)),
        )).one()
        recent = session.execute(
            select(AssistedSubmission).where(AssistedSubmission.account_id == me(request).id)
            .order_by(AssistedSubmission.id.desc()).limit(10)
        ).scalars().all()
    counts = {method: 0 for method in METHODS} | {str(m): int(c) for m, c in mine}
    total = sum(counts.values())
    online_share = counts["online"] / total if total else None
    all_total, all_online = int(everyone[0] or 0), int(everyone[1] or 0)
    return await page(
        request, "submissions.html", nav="submissions", counts=counts, total=total, online_share=online_share,
        all_share=all_online / all_total if all_total else None, all_total=all_total,
        recent=[(r.created_at, r.procedure_code, mask(r.dossier_code) if r.dossier_code else "", r.method) for r in recent],
        code=request.query.get("code", "")[:20],
    )


@routes.post("/submissions")
@allow(*ROLES)
async def log_submission(request: web.Request) -> web.Response:
    """Logs one assisted submission: procedure, dossier code and how it went in; nothing about the person."""
    form = await request.post()
    code, method = str(form.get("procedure", "")).strip(), str(form.get("method", ""))
    dossier = str(form.get("dossier_code", "")).strip()[:40]
    if method not in METHODS or not _CODE.match(code) or assistant(request).knowledge.get(code) is None:
        await note(request, "submission_bad")
        raise redirect("/desk/submissions")
    found = find_dossier_codes(dossier)
    dossier = found[0][2] if found else dossier
    store = assistant(request).store
    with store.session() as session, session.begin():
        session.add(AssistedSubmission(account_id=me(request).id, procedure_code=code, dossier_code=dossier, method=method))
    audit_action(request, "log_submission", f"{code} {method} {mask(dossier)}")
    await note(request, "submission_logged")
    raise redirect("/desk/submissions")

