"""What each aspect of a procedure says, built from its catalog record (and guide), ordered for the common case.

Every builder returns the lines of one view of an aspect: `main` (the first screen: the common
case, short items), `cases` (the special cases, grouped by case) or `all` (the record's full text).
Wording around the facts comes from flows/responses/procedure_info.yml.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable

from flows.actions.answers.asked import deciding, focus, is_yes_no, plain_agency, short_step, where_clause, who_sentences
from flows.actions.answers.compose import ITEM_CHARS, clip
from flows.actions.answers.forms import form_documents, forms
from knowledge import clean_name, fee_on, fee_value, fold, format_amount, mentions_other_charges, select_documents

__all__ = ["ITEM_CHARS", "BUILDERS", "form_documents", "step_parts"]

Text = Callable[..., str]
# A legal reference's title on the first screen (its number comes first).
LEGAL_CHARS = 90
# A step on the first screen: its first sentence, cut to this many characters.
STEP_CHARS = 100
# A fee note this short ("Sát hạch thực hành") is said with its amount.
SHORT_NOTE = 60
# A fee note longer than this is not quoted on the first screen (whole under "Xem đầy đủ").
LONG_NOTE = 220
# The record's audience ("đối tượng") on a first screen: a list of kinds of applicant, shortened beyond this.
AUDIENCE_CHARS = 100
# Lines of a who answer's first screen (the deciding line counts).
WHO_LINES = 2
# Words of "nộp hồ sơ tại/đến/cho …" that say nothing of the place itself.
_SUBMIT_WORDS = {"nop", "ho", "so", "tai", "den", "cho", "cap"}
_STEP_MARK = re.compile(r"^\W*bước\s*(\d+)\s*[:.\-–)]?\s*", re.I)
_TOP_ITEM = re.compile(r"^\s*(?:-|–|•|\d+\s*[.)]|[a-zđ]\)\s)")


def _date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _copies(text: Text, document: Any) -> str:
    if not document.quantity:
        return text("quantity_unknown")
    if "xuất trình" in (document.group or "").lower():  # shown at the desk, not left with the file
        return text("quantity_show")
    return ", ".join(text(f"quantity_{q.kind}", count=q.count) for q in document.quantity)


# -- documents ---------------------------------------------------------------------


def documents(text: Text, procedure: Any, guide: Any, part: str, **_: Any) -> tuple[list[str], dict[str, Any]]:
    selection = select_documents(procedure, guide)
    if part == "cases":
        lines = []
        for case, docs in selection.cases:
            lines.append(text("case_line", case=clip(case, ITEM_CHARS) if case else text("case_other")))
            lines += [text("item_line", text=clean_name(d.name)) for d in docs]
        return lines, {"all": int(any(len(case) > ITEM_CHARS for case, _ in selection.cases))}
    if part == "all":
        return [text("document_full_line", name=clean_name(d.name), quantity=_copies(text, d))
                for d in procedure.documents if clean_name(d.name)], {}
    core = list(selection.core)
    lines = [text("document_line", number=i, name=clip(c.text, ITEM_CHARS), quantity=_copies(text, c.document))
             for i, c in enumerate(core, 1)]
    if not lines and selection.cases:  # every row is for some case: show the cases at once
        return documents(text, procedure, guide, "cases")
    return lines, {"cases": selection.special_count, "all": int(any(len(c.text) > ITEM_CHARS for c in core))}


# -- fee ---------------------------------------------------------------------------


def _merged(pairs: list[tuple[str, str]], text: Text) -> list[str]:
    """One line per distinct value, naming every channel that has it ("Trực tiếp, trực tuyến: …")."""
    order: dict[str, list[str]] = {}
    for channel, value in pairs:
        order.setdefault(value, []).append(channel)
    if len(order) == 1 and len(pairs) > 1:
        return [text("all_channels_line", value=next(iter(order)))]
    lines = []
    for value, channels in order.items():
        names = list(dict.fromkeys(channels))
        lines.append(text("channel_line", channel=", ".join([names[0], *(n.lower() for n in names[1:])]), value=value))
    return lines


def fee(text: Text, procedure: Any, part: str, today: date, **_: Any) -> tuple[list[str], dict[str, Any]]:
    today_fees = [(c, fee_on(c.fee, today, c.kind)) for c in procedure.channels]
    if part == "all":
        lines = []
        for channel, f in today_fees:
            lines.append(text("channel_line", channel=text(f"channel_{channel.kind}"), value=fee_value(text, f)))
            lines += [text("note_line", text=s.lstrip("-+• ")) for s in f.sentences]
        return lines, {}
    # Dated clauses in force are already in the amounts; a short note that says what the amount is
    # for goes with it; the other sentences are quoted whole below.
    dated = {c.text for _, f in today_fees for c in f.clauses}
    said = {fold(text("fee_free")), fold(text("fee_free_stated"))}
    pairs, notes = [], []
    for channel, today_fee in today_fees:
        value = fee_value(text, today_fee)
        amounts = {format_amount(a).split(" ")[0] for a in today_fee.amounts + today_fee.then}
        own = [s.lstrip("-+• ") for s in today_fee.sentences if s not in dated and fold(s).strip(" .") not in said
               and not (len(s) <= SHORT_NOTE // 2 and any(a in s for a in amounts))]  # "200.000đ/ hộ chiếu."
        # "Miễn phí" beside a note that names an amount ("Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần"):
        # say both as the record does, never one of them as the answer.
        priced_note = today_fee.kind == "free" and today_fee.until is None and channel.fee.note_mentions_amount and own
        if priced_note:
            value = text("fee_free_but_noted")
        elif len(own) == 1 and len(own[0]) <= SHORT_NOTE and today_fee.kind != "free":
            value, own = text("fee_with_note", value=value, note=own[0].rstrip(".")), []
        pairs.append((text(f"channel_{channel.kind}"), value))
        notes += own
    lines = _merged(pairs, text)
    notes = list({n.rstrip(". "): n for n in reversed(notes)}.values())[::-1]  # "… cấp tỉnh" and "… cấp tỉnh."
    # A note is quoted whole or not at all (a fee rule cut mid-sentence misleads): long ones are under "Xem đầy đủ".
    shown = [n for n in notes if len(n) <= LONG_NOTE][:2]
    lines += [text("note_line", text=n) for n in shown]
    if len(shown) < len(notes):
        lines.append(text("fee_notes_more", count=len(notes) - len(shown)))
    upcoming = {c.text for _, f in today_fees for c in f.upcoming}
    for clause in list(upcoming)[:1]:
        lines.append(text("fee_upcoming", text=clip(clause, ITEM_CHARS)))
    notes_text = [c.fee.text for c in procedure.channels]
    tail = [text("fee_other_charges")] if mentions_other_charges(*notes_text, *procedure.steps) else []
    return lines, {"all": int(len(shown) < len(notes)), "tail": tail}


# -- time --------------------------------------------------------------------------


def _time_value(text: Text, time: Any) -> str:
    if time.value is None:
        return clip(time.text, ITEM_CHARS) if time.text and fold(time.text) != "khong co thong tin" else text("time_unknown")
    value = f"{time.value:g}"
    if time.unit is None:
        return text("time_no_unit", value=value)
    return text(f"unit_{time.unit}", value=value)


def time(text: Text, procedure: Any, **_: Any) -> tuple[list[str], dict[str, Any]]:
    pairs = [(text(f"channel_{c.kind}"), _time_value(text, c.time)) for c in procedure.channels]
    tail = []
    if "ngay_lam_viec" in {c.time.unit for c in procedure.channels}:
        tail.append(text("working_days_explained"))
    if any(c.time.value is not None and c.time.unit is None for c in procedure.channels):
        tail.append(text("time_no_unit_explained"))
    return _merged(pairs, text), {"tail": tail}


# -- where, who, conditions, result, legal -----------------------------------------


def where(text: Text, procedure: Any, part: str, **_: Any) -> tuple[list[str], dict[str, Any]]:
    agencies = procedure.agencies
    limit = 10_000 if part == "all" else ITEM_CHARS
    lines = []
    named = agencies.implementing and fold(agencies.implementing) != "khong co thong tin"
    if named:
        lines.append(text("agency_line", value=clip(plain_agency(agencies.implementing), limit)))
    elif procedure.levels:  # the level says where only when the record names no agency
        lines.append(text("level_line", value="; ".join(text(f"level_{lv}") for lv in procedure.levels)))
    place = where_clause(procedure)
    said = set(re.findall(r"\w+", fold(" ".join(lines + [plain_agency(agencies.implementing), agencies.implementing]))))
    # The record's own words on which office of that kind ("nơi thường trú, tạm trú …"), when they add to it.
    if len(set(re.findall(r"\w+", fold(plain_agency(place)))) - said - _SUBMIT_WORDS) >= 2:
        lines.append(text("place_line", value=clip(place, limit)))
    address = plain_agency(agencies.submission_address or "")
    if address and fold(address) not in ("khong co thong tin", fold(plain_agency(agencies.implementing))):
        lines.append(text("address_line", value=clip(address, limit)))
    kinds = [text(f"channel_{c.kind}") for c in procedure.channels]
    if kinds:
        names = list(dict.fromkeys(kinds))
        lines.append(text("ways_line", value=", ".join([names[0], *(n.lower() for n in names[1:])])))
    longer = len(agencies.implementing) > ITEM_CHARS or len(agencies.submission_address) > ITEM_CHARS
    return lines, {"all": int(longer and part != "all")}


def _office(text: Text, procedure: Any) -> str:
    """Who to ask, in a few words: the record's agency said plainly, else its level."""
    agency = procedure.agencies.implementing
    if agency and fold(agency) != "khong co thong tin":
        return clip(plain_agency(agency), 90).rstrip(" .;")
    return ", ".join(text(f"office_{lv}") for lv in procedure.levels[:1]) or text("office_khac")


def _audience(text: Text, procedure: Any) -> list[str]:
    names = [a.strip().lstrip("-+• ") for a in procedure.audience if a.strip()]
    return [text("audience_line", value=clip(", ".join(names), AUDIENCE_CHARS))] if names else []


def _verdict(text: Text, procedure: Any, candidates: list[str], asked: str) -> tuple[list[str], str | None]:
    """For a yes/no question: the record's line that decides it first, or that the record says nothing of it."""
    if not asked or not is_yes_no(asked):
        return [], None
    line = deciding(candidates, asked, named=re.findall(r"\w+", fold(procedure.name)))
    if line is not None:
        shown = focus(line, asked, ITEM_CHARS * 2) or clip(line, ITEM_CHARS * 2)
        return [text("answer_deciding", text=shown)], line
    return [text("answer_not_stated", office=_office(text, procedure))], None


def who(text: Text, procedure: Any, part: str, asked: str = "", **_: Any) -> tuple[list[str], dict[str, Any]]:
    sentences = who_sentences(procedure)
    if part == "all":
        return [text("item_line", text=s) for s in sentences] + _audience(text, procedure), {}
    lines, decided = _verdict(text, procedure, sentences + _conditions(procedure), asked)
    rest = [s for s in sentences if s != decided][:WHO_LINES - len(lines)]
    lines += [text("item_line", text=clip(s, ITEM_CHARS)) for s in rest]
    if not lines:  # the record names no one: its "đối tượng" is the answer
        return _audience(text, procedure), {"all": int(len(", ".join(procedure.audience)) > AUDIENCE_CHARS)}
    # The audience is the record's own "đối tượng": always with the answer, after the people it names.
    more = len(sentences) > len(rest) + int(decided is not None)
    cut = len(", ".join(procedure.audience)) > AUDIENCE_CHARS or any(len(s) > ITEM_CHARS for s in rest)
    return lines, {"tail": _audience(text, procedure), "all": int(more or cut)}


def _conditions(procedure: Any) -> list[str]:
    return [c.strip().lstrip("-+• ").strip() for c in procedure.conditions if c.strip()]


def conditions(text: Text, procedure: Any, part: str, asked: str = "", **_: Any) -> tuple[list[str], dict[str, Any]]:
    items = _conditions(procedure)
    if part == "all":
        return [text("item_line", text=c) for c in items] or [text("conditions_none")], {}
    lines, decided = _verdict(text, procedure, items + who_sentences(procedure), asked)
    if not items:
        # Nothing to list: say so in a line, the audience, and the parts that do answer.
        if decided is not None:  # the record's line answers; nothing more to point to
            return lines, {}
        return lines or [text("conditions_none")], {"tail": [text("conditions_see_also")]}
    if lines and decided is None:
        lines.append(text("conditions_listed"))
    # A line ending with ":" heads the items after it ("Người nhận con nuôi phải có đủ điều kiện sau:").
    lines += [text("case_line", case=clip(c.rstrip(":"), ITEM_CHARS)) if c.endswith(":") else
              text("item_line", text=clip(c, ITEM_CHARS)) for c in items if c != decided]
    return lines, {"all": int(any(len(c) > ITEM_CHARS for c in procedure.conditions))}


def result(text: Text, procedure: Any, part: str, **_: Any) -> tuple[list[str], dict[str, Any]]:
    items = [r.lstrip("-+• ").strip() for r in procedure.result if r.strip()]
    if part == "all":
        return [text("item_line", text=r) for r in items], {}
    # The paper the procedure is named for first ("Thẻ BHYT" of "… cấp thẻ BHYT"), then the others.
    name = set(re.findall(r"\w+", fold(procedure.name)))
    ranked = sorted(items, key=lambda r: -len(set(re.findall(r"\w+", fold(r))) & name) / (1 + len(r.split())))
    return [text("item_line", text=clip(r, ITEM_CHARS)) for r in ranked], {
        "all": int(any(len(r) > ITEM_CHARS for r in items))}


def legal(text: Text, procedure: Any, part: str, **_: Any) -> tuple[list[str], dict[str, Any]]:
    references: dict[str, str] = {}  # one line per number (the record repeats some), the longest title
    for reference in procedure.legal_basis:
        title, number = " ".join(reference.title.split()), (reference.number or "").strip()
        key = number or title
        if len(title) > len(references.get(key, "")):
            references[key] = title
    if part == "all":
        return [text("item_line", text=f"{t} ({n})" if n != t else t) for n, t in references.items()], {}
    lines, cut = [], False
    for number, title in references.items():
        if number == title:
            short = title
        else:  # the number people cite comes first; the title without the number and date it repeats
            short = re.sub(rf"\s*(?:số\s*)?{re.escape(number)}(?:\s+ngày\s+[\d/]+)?", "", title).strip(" ,:") or title
        shown = clip(short, LEGAL_CHARS)
        cut = cut or shown != short
        lines.append(text("item_line", text=shown) if number == title else text("legal_line", number=number, title=shown))
    return lines, {"all": int(cut or len(references) < len(procedure.legal_basis))}


# -- steps -------------------------------------------------------------------------


def step_parts(steps: list[str]) -> list[str]:
    """The record's steps as whole steps: by "Bước N" when it has them, else by its top-level items."""
    lines = [s.strip() for s in steps if s.strip()]
    marked = any(_STEP_MARK.match(s) for s in lines)
    parts: list[list[str]] = []
    for line in lines:
        opens = bool(_STEP_MARK.match(line)) if marked else bool(_TOP_ITEM.match(line)) and not line.lstrip().startswith("+")
        if opens or not parts:
            parts.append([_STEP_MARK.sub("", line)])
        else:
            parts[-1].append(line)
    joined = []
    for part in parts:
        head, *rest = [" ".join(x.split()).lstrip("-–•+* ").strip() for x in part]
        if rest and head and len(head) <= 40 and not head.endswith((".", ":", ";")):
            head += ":"  # "Bước 2: Nộp hồ sơ" followed by how
        text_ = " ".join([head, *rest]).strip()
        if text_:
            joined.append(text_)
    return joined


def steps(text: Text, procedure: Any, part: str, **_: Any) -> tuple[list[str], dict[str, Any]]:
    parts = step_parts(procedure.steps)
    if part == "all":
        return [text("step_line", number=i, text=p) for i, p in enumerate(parts, 1)], {}
    # A first screen: each step in its first sentence, plainly; the cases and details are under "Xem đầy đủ".
    short = [s for s in (short_step(p) for p in parts) if len(s) > 3]
    clipped = list(dict.fromkeys(clip(s, STEP_CHARS) for s in short))
    lines = [text("step_line", number=i, text=s) for i, s in enumerate(clipped, 1)]
    return lines, {"all": int(any(len(s) > STEP_CHARS for s in short) or len(short) < len(parts)
                              or any(s != p for s, p in zip(short, parts)))}


def postal(text: Text, procedure: Any, **_: Any) -> tuple[list[str], dict[str, Any]]:
    if procedure.channel("postal"):
        return [text("procedure_info_postal_yes")], {}
    ways = list(dict.fromkeys(text(f"channel_{c.kind}").lower() for c in procedure.channels))
    return [text("procedure_info_postal_no", ways=", ".join(ways) or text("channel_in_person").lower())], {}


def online(text: Text, procedure: Any, **_: Any) -> tuple[list[str], dict[str, Any]]:
    has_online = procedure.channel("online") is not None
    key = f"online_level_{procedure.online_level}" if has_online else "online_none"
    return [text(key)], {}


BUILDERS: dict[str, Callable[..., tuple[list[str], dict[str, Any]]]] = {
    "documents": documents,
    "fee": fee,
    "time": time,
    "where": where,
    "conditions": conditions,
    "result": result,
    "legal": legal,
    "steps": steps,
    "forms": forms,
    "who": who,
    "postal": postal,
    "online": online,
}
