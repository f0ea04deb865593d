"""Actions of the dossier_status flow: take a dossier code, say what is wrong with it, look it up, explain.

A code (Circular 01/2018/TT-VPCP) has three parts joined by dashes: agency code,
the day received (yymmdd) and a sequence number, e.g. 000.00.19.H12-230815-0001.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from flows.actions import registry
from flows.engine import ActionContext
from flows.yamlfile import load_yaml
from knowledge import VIETNAM, fold, vietnam_date
from nlu.dossier_code import canonical_dossier_code, received_on

log = logging.getLogger(__name__)

SLOT = "dossier_status_code"
WORDS_FILE = Path(__file__).resolve().parent / "dossier_status_words.yml"
MAX_WRONG_TRIES = 3
# Statuses that mean "the office is still on it": past the due day they are explained as overdue.
STILL_OPEN = ("received", "processing")
# The shortest well-formed code: 1-char agency, 6-digit date, 3-digit sequence, two dashes.
SHORTEST_CODE = 12

_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
# Spaces around a dot or dash inside a code ("000 . 00 . 19 . h12 - 230815 - 0001"), not at a sentence end.
_SPACED_SEPARATOR = re.compile(r"(?<=[A-Za-z0-9])\s*([.\-])\s*(?=[A-Za-z]{0,4}\d)")
# The three parts separated by spaces instead of dashes.
_SPACED_PARTS = re.compile(r"(?<!\S)([A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*)\s+(\d{6})\s+(\d{3,6})(?!\S)")
_WORD_BREAK = re.compile(r"[\s,;:()\[\]{}\"'«»“”]+")
_CODE_CHARS = re.compile(r"[A-Za-z0-9.\-_/]+")
_PHONE_OR_ID = re.compile(r"(?<![\w.\-])\+?\d(?:[\s.]?\d){8,11}(?![\w.\-])")
_AGENCY = re.compile(r"[A-Z0-9]{1,5}(?:\.[A-Z0-9]{1,5}){0,4}")
_LOOKALIKES = set("OIL")  # letters people type for 0 and 1
# Spaces, dots and the like typed where a dash joins the date and the sequence ("261105 0031").
_TAIL_SEPARATORS = re.compile(r"[\s._/\\]+")
# The other half inside a message: the date and sequence ("261105 0031", "2611O5-OO31"), or the agency code.
_TAIL_IN = re.compile(r"(?<![\w.])[0-9OoIiLl]{6}[\s._/\-]*[0-9OoIiLl]{3,6}(?![\w.])")
_HEAD_IN = re.compile(r"(?<![\w.])[A-Za-z0-9]{1,5}(?:\.[A-Za-z0-9]{1,5}){1,4}(?![\w.])")


@dataclass(frozen=True)
class CodeCheck:
    """A typed code: canonical when well formed, else the problem and the values its explanation needs."""

    code: str | None = None
    problem: str | None = None  # dossier_status_problem_<problem> in flows/responses/dossier_status.yml
    values: dict[str, str] = field(default_factory=dict)
    lookalike: bool = False  # the letters at fault look like 0 or 1


def today_in_vietnam() -> date:
    """Today in Vietnam by the wall clock, for callers without a turn; an action uses `today(ctx)`."""
    return datetime.now(VIETNAM).date()


def today(ctx: ActionContext) -> date:
    """The turn's day in Vietnam (its clock, not the wall's): what "received in the future" and "overdue" mean."""
    return vietnam_date(ctx.now)


def code_attempt(text: str, strict: bool = False) -> str | None:
    """The part of a message meant as a dossier code, well formed or not; None when there is none.

    `strict` (the message that starts the flow) wants a dash, a long number or the code alone;
    otherwise, while a code is being asked for, any token mixing digits with letters or dots counts.
    """
    text = _SPACED_SEPARATOR.sub(r"\1", text.translate(_DASHES))
    text = _SPACED_PARTS.sub(r"\1-\2-\3", text)
    words = [w.strip(".-_/!?") for w in _WORD_BREAK.split(text) if w.strip(".-_/!?")]
    tokens = [w for w in words if _CODE_CHARS.fullmatch(w) and any(c.isdigit() for c in w)]
    token = max(tokens, key=len) if tokens else ""
    phone = _PHONE_OR_ID.search(text)
    if phone and "-" not in token:  # a phone or ID number typed in groups: explained, not ignored
        return phone.group(0)
    if not token:
        return None
    digits = sum(c.isdigit() for c in token)
    alone = len(words) <= 2 and len(token) >= 3
    if "-" in token or digits >= 9 or alone:
        return token
    if strict:
        return None
    mixed = any(c.isalpha() for c in token) and digits >= 2
    return token if mixed or (any(c in token for c in "._/") and digits >= 2) else None


@lru_cache(maxsize=1)
def _question_patterns() -> dict[str, re.Pattern[str]]:
    """dossier_status_words.yml as one pattern per group, over folded text."""
    raw = load_yaml(WORDS_FILE) or {}
    patterns = {}
    for group in ("code", "where", "lost"):
        phrases = sorted({fold(str(p)) for p in raw.get(group) or []}, key=len, reverse=True)
        if not phrases:
            raise ValueError(f"{WORDS_FILE}: group '{group}' needs at least one phrase")
        patterns[group] = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + r")(?!\w)")
    return patterns


def question_about_code(text: str) -> str | None:
    """'lost' (no receipt), 'where' (where is the code printed) or None, for a message that holds no code."""
    folded = fold(text)
    patterns = _question_patterns()
    if patterns["lost"].search(folded):
        return "lost"
    if patterns["code"].search(folded) and patterns["where"].search(folded):
        return "where"
    return None


def _problem(problem: str, lookalike: bool = False, **values: str) -> CodeCheck:
    return CodeCheck(problem=problem, values=values, lookalike=lookalike)


def _letters(part: str) -> list[str]:
    return sorted({c for c in part if c.isalpha()})


def _day_problem(day: str, today: date) -> CodeCheck | None:
    try:
        received = date(2000 + int(day[:2]), int(day[2:4]), int(day[4:6]))
    except ValueError:
        return _problem("not_a_date", part=day)
    if received > today:
        return _problem("future_date", date=received.strftime("%d/%m/%Y"))
    return None


def _parts_problem(agency: str, day: str, sequence: str, today: date) -> CodeCheck:
    if not _AGENCY.fullmatch(agency) or not any(c.isdigit() for c in agency):
        return _problem("bad_agency", part=agency)
    if not day.isdigit():
        letters = _letters(day)
        if letters:
            return _problem("letters_in_date", set(letters) <= _LOOKALIKES, part=day, letters=", ".join(letters))
        return _problem("date_length", part=day)
    if len(day) != 6:
        return _problem("date_length", part=day)
    problem = _day_problem(day, today)
    if problem:
        return problem
    letters = _letters(sequence)
    if letters:
        return _problem("letters_in_sequence", set(letters) <= _LOOKALIKES, part=sequence, letters=", ".join(letters))
    if not sequence.isdigit() or not 3 <= len(sequence) <= 6:
        return _problem("sequence_length", part=sequence)
    return _problem("unreadable", typed=f"{agency}-{day}-{sequence}")


def check_code(typed: str, today: date) -> CodeCheck:
    """Reads a typed dossier code: canonical when well formed, else precisely what is wrong."""
    shown = typed.strip()
    compact = re.sub(r"\s+", "", shown).upper()
    if canonical_dossier_code(compact) == compact:  # the whole of it is a code, nothing left over
        day = compact.split("-")[-2]
        if received_on(compact) is None:
            return _problem("not_a_date", part=day)
        return _day_problem(day, today) or CodeCheck(code=compact)
    fixed = _lookalikes_fixed(compact)
    if fixed is not None and received_on(fixed) is not None and _day_problem(fixed.split("-")[-2], today) is None:
        return CodeCheck(code=fixed, lookalike=True)  # O typed for 0, I or l for 1: read as meant, shown back
    flat = re.sub(r"[\s.]", "", shown).removeprefix("+")
    if "-" not in shown and flat.isdigit() and 9 <= len(flat) <= 12:
        return _problem("phone_or_id", typed=shown)
    parts = [p for p in compact.split("-") if p]
    if len(parts) == 3:
        return _parts_problem(*parts, today)
    if len(parts) == 2:  # one part missing: the 6-digit date says which side
        first, second = parts
        if first.isdigit() and len(first) == 6:
            return _problem("missing_agency", typed=shown)
        if second.isdigit() and len(second) == 6:
            return _problem("missing_sequence", typed=shown)
    if len(compact) < SHORTEST_CODE:
        return _problem("too_short", typed=shown)
    if len(parts) == 2:
        return _problem("missing_date", typed=shown)
    if len(parts) > 3:
        return _problem("too_many_parts", typed=shown)
    return _problem("no_dashes", typed=shown)


def _lookalikes_fixed(compact: str) -> str | None:
    """The code with O read as 0 and I, L as 1 in its date and sequence parts, when that makes it well formed."""
    parts = compact.split("-")
    if len(parts) != 3:
        return None
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    fixed = "-".join([parts[0], parts[1].translate(table), parts[2].translate(table)])
    return fixed if fixed != compact and canonical_dossier_code(fixed) == fixed else None


@registry.register("start_dossier_status")
def start_dossier_status(ctx: ActionContext) -> str:
    """Takes a code the first message or button holds; subscribe at once when the code was verified lately."""
    ctx.frame_vars["wrong_tries"] = 0
    typed = ctx.parse.entities.get("dossier_code")
    if ctx.parse.intent == "subscribe_status":
        ctx.frame_vars["subscribe"] = True
        desk = getattr(ctx.services, "dossiers", None)
        code = check_code(typed or "", today(ctx)).code if typed else None
        if code and desk is not None and getattr(desk, "is_verified", None) and desk.is_verified(ctx.services.user_key, code):
            ctx.slots[SLOT] = code
            return "subscribe"
        if not typed:
            ctx.say("dossier_status_subscribe_first")
    if typed is None and not ctx.parse.from_button:
        typed = code_attempt(ctx.parse.text, strict=True)
    if typed:
        ctx.slots[SLOT] = typed
        return "code_given"
    return "ask"


@registry.register("take_dossier_code")
def take_dossier_code(ctx: ActionContext) -> str:
    """Accepts a message holding a code or an attempt at one (checked next); anything else is not_a_code."""
    if ctx.parse.from_button:  # a button of another flow: let the engine answer it
        return "not_a_code"
    half = ctx.frame_vars.get("code_half")
    if half:  # the rest of the code whose first half came in the last message
        found = (_TAIL_IN if half[0] == "head" else _HEAD_IN).findall(ctx.parse.text)
        rest = next((f for f in found if _joined(half, f, today(ctx))), None)
        if rest:
            ctx.slots[SLOT] = rest
            return "valid"
    typed = ctx.parse.entities.get("dossier_code") or code_attempt(ctx.parse.text)
    if typed:
        ctx.slots[SLOT] = typed
        return "valid"
    question = question_about_code(ctx.parse.text)
    if question:  # answered here, not by the flow the NLU would pick ("mã ở đâu" reads as ask_where)
        ctx.frame_vars["code_question"] = question
        ctx.slots[SLOT] = ctx.parse.text
        return "valid"
    return "not_a_code"


@registry.register("check_dossier_code")
def check_dossier_code(ctx: ActionContext) -> str:
    """valid (slot made canonical), wrong (the problem kept for the next prompt) or gave_up after 3 tries."""
    question = ctx.frame_vars.pop("code_question", None)
    if question:  # a question about the code is answered and the code asked for again; it is no wrong try
        ctx.slots.pop(SLOT, None)
        ctx.frame_vars["code_problem"] = ctx.text(f"dossier_status_help_{question}")
        return "wrong"
    typed = str(ctx.slots.get(SLOT) or "")
    joined = _joined(ctx.frame_vars.pop("code_half", None), typed, today(ctx))
    if joined:  # the rest of a code whose first half came before: the whole, corrected, shown to be confirmed
        ctx.slots.pop(SLOT, None)
        ctx.slots.pop("dossier_status_choice", None)
        ctx.frame_vars.update(suggestion=joined, typed=typed, joined=True)
        return "joined"
    result = check_code(typed, today(ctx))
    if result.code:
        ctx.slots[SLOT] = result.code
        return "valid"
    ctx.slots.pop(SLOT, None)
    half = half_code(typed, result)
    if half:  # half a code is no wrong try: people send the rest in the next message
        ctx.frame_vars["code_half"] = list(half)
        problem = "only_agency" if half[0] == "head" else result.problem
        ctx.frame_vars["code_problem"] = ctx.text(f"dossier_status_problem_{problem}", **result.values, part=half[1],
                                                  hint="")
        return "wrong"
    tries = int(ctx.frame_vars.get("wrong_tries", 0)) + 1
    ctx.frame_vars["wrong_tries"] = tries
    hint = ctx.text("dossier_status_hint_lookalike") if result.lookalike else ""
    ctx.frame_vars["code_problem"] = ctx.text(
        f"dossier_status_problem_{result.problem}", **result.values, hint=f" {hint}" if hint else ""
    )
    log.info("dossier code not well formed: %s (try %d of %d)", result.problem, tries, MAX_WRONG_TRIES)
    if tries >= MAX_WRONG_TRIES:
        ctx.say("dossier_status_too_many_tries")
        return "gave_up"
    return "wrong"


def half_code(typed: str, result: CodeCheck) -> tuple[str, str] | None:
    """("head", agency) for the agency code alone ("000.00.19.H12"), ("tail", date-sequence) for the rest alone
    ("261105-0031"): half a code whose other half may come in the next message; None otherwise."""
    compact = re.sub(r"\s+", "", typed).upper().strip("-")
    if "-" not in compact and "." in compact and _AGENCY.fullmatch(compact) and any(c.isdigit() for c in compact):
        return "head", compact
    if result.problem == "missing_agency":
        return "tail", compact
    return None


def _joined(half: list[str] | None, typed: str, day: date) -> str | None:
    """The code made of the half kept from the last message and this one, when together they are well formed
    (lookalike letters corrected); None otherwise."""
    if not half or len(half) != 2:
        return None
    side, kept = half
    if side == "head":  # this message is the date and sequence, perhaps spaced ("261105 0031")
        rest = _TAIL_SEPARATORS.sub("-", typed.strip()).strip("-")
    else:  # this message is the agency code, dots and all
        rest = re.sub(r"\s+", "", typed).strip("-")
    if not rest:
        return None
    whole = f"{kept}-{rest}" if side == "head" else f"{rest}-{kept}"
    return check_code(whole, day).code
