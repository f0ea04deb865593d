"""The fee in force on a given day, read from a channel's fee cell and its dated note.

Fee notes carry clauses such as "Kể từ ngày 01/7/2025 đến hết ngày 31/12/2026 mức
thu ... bằng 50%", "áp dụng mức phí 400.000 đồng/hồ sơ kể từ ... đến hết ...",
"(áp dụng đến hết ngày 31/12/2023 ...)" or "Miễn kể từ ngày ... đến ...". Each
clause is read into a `DatedClause`; `fee_on(fee, day)` answers what is paid that
day, until when, and what it becomes. An expired clause is never current; a
clause that cannot be read is left to the note, which is quoted sentence by
sentence (never cut inside one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Literal, Optional

from .schema import Fee, Money

__all__ = [
    "VIETNAM", "Amount", "DatedClause", "FeeToday", "dated_clauses", "fee_on", "fee_value", "format_amount",
    "in_vietnam", "mentions_other_charges", "note_sentences", "vietnam_date",
]

# Vietnam's time (UTC+7, no daylight saving): the day a fee is in force, a dossier's dates, the desk's hours.
# The one definition; stored times are naive UTC.
VIETNAM = timezone(timedelta(hours=7))


def in_vietnam(moment: datetime) -> datetime:
    """A naive UTC time (as stored, or a turn's clock) as the wall clock in Vietnam reads it, naive."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment + VIETNAM.utcoffset(None)


def vietnam_date(moment: datetime) -> date:
    """The day in Vietnam at a naive UTC time: what "today" means for a fee or a dossier's due day."""
    return in_vietnam(moment).date()


_DATE = r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})"
_WINDOW = re.compile(rf"(?:kể\s+từ|từ)\s+(?:ngày\s+)?{_DATE}\s*(?:đến|tới)\s+(?:hết\s+)?(?:ngày\s+)?{_DATE}", re.I)
_UNTIL = re.compile(rf"(?:áp\s+dụng\s+)?đến\s+(?:hết\s+)?(?:ngày\s+)?{_DATE}", re.I)
_FROM = re.compile(rf"(?:kể\s+từ|từ|áp\s+dụng\s+từ)\s+(?:ngày\s+)?{_DATE}", re.I)
_PERCENT = re.compile(r"bằng\s+(\d{1,3}(?:[.,]\d+)?)\s*%")
_FREE = re.compile(r"\bmiễn\b(?!\s+(?:một số|giảm))|\bmiễ\w*\s*phí|không thu", re.I)
# A free window, however the portal spells it ("Miễn phí", "Miễ phí", "Miễnphí", "miễn thu").
_FREE_WINDOW = re.compile(r"miễ\w*\s*(?:phí|thu|lệ phí)|\bmiễn\b", re.I)
_MONEY = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d{4,})\s*(?:đồng|đ\b|vnđ|việt nam đồng)?", re.I)
# Sentences and list items of a note: ". " before a capital, "; ", " - " and " + " items.
_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[-+•(]?\s*[A-ZĐÀ-Ỹ0-9])|\s+(?=[-+]\s)|\n+")
_ONLINE_ONLY = re.compile(r"hình thức trực tuy|nộp hồ sơ trực tuy|qua cổng dịch vụ công", re.I)
# The record speaks of taxes or other charges besides the lệ phí.
_OTHER_CHARGES = re.compile(r"\bthuế\b|nghĩa vụ tài chính|lệ phí trước bạ|tiền sử dụng đất|phí thẩm định|phí khác", re.I)


@dataclass(frozen=True)
class Amount:
    value: float
    currency: str = "VND"
    per: str = ""  # "/trang", "/hộ chiếu" when the record says


@dataclass(frozen=True)
class DatedClause:
    """One dated sentence of a fee note and what it does to the fee."""

    start: Optional[date]
    end: Optional[date]
    # "percent": the base times `percent`; "amount": `amount` instead of the base;
    # "free": nothing to pay; "validity": the base itself holds only in this window.
    kind: Literal["percent", "amount", "free", "validity"]
    percent: float = 0.0
    amount: Optional[Amount] = None
    text: str = ""
    # The words before the bracket the dates sit in ("Sát hạch thực hành (Miễn kể từ …)"): what the
    # amount is for, still true when the clause has ended.
    lead: str = ""

    def holds_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class FeeToday:
    """What a channel costs on one day."""

    # "noted": the record's amounts are in its note only (a free window on the cell has ended).
    kind: Literal["free", "amount", "unknown", "expired", "noted"]
    amounts: tuple[Amount, ...] = ()
    until: Optional[date] = None  # the current amount holds until this day (inclusive)
    then: tuple[Amount, ...] = ()  # ... and becomes this afterwards (empty: free or not stated)
    then_free: bool = False
    expired_on: Optional[date] = None  # the only stated amount ended on this day
    upcoming: tuple[DatedClause, ...] = ()
    clauses: tuple[DatedClause, ...] = ()  # every dated clause of the note (in force or not)
    abroad: bool = False  # a USD amount: charged at missions abroad
    sentences: tuple[str, ...] = field(default_factory=tuple)  # note sentences still in force, whole


def _day(groups: tuple[str, ...]) -> Optional[date]:
    try:
        return date(int(groups[2]), int(groups[1]), int(groups[0]))
    except ValueError:
        return None


def note_sentences(note: str) -> list[str]:
    """The note in whole sentences (list items kept apart), without empty bits."""
    parts = [p.strip(" ()") for p in _SENTENCE.split(note or "")]
    return [p for p in parts if len(p) > 1]


def _money_in(text: str) -> list[float]:
    values = []
    for match in _MONEY.finditer(text):
        if re.match(r"\s*/\s*\d{1,2}\s*/", text[match.end():match.end() + 6]) or re.search(r"/\s*$", text[:match.start()]):
            continue  # a date, not money
        digits = re.sub(r"[.,]", "", match.group(1))
        if len(digits) <= 4 and not match.group(0).strip().endswith(("đ", "đồng", "Đồng", "vnđ", "VNĐ")):
            continue  # a year or a bare count
        values.append(float(digits))
    return values


def dated_clauses(note: str, base: tuple[float, ...] = ()) -> list[DatedClause]:
    """The dated clauses of a fee note, in note order."""
    clauses = []
    for sentence in note_sentences(note):
        start = end = None
        found = _WINDOW.search(sentence) or _UNTIL.search(sentence) or _FROM.search(sentence)
        if found is None:
            continue
        if found.re is _WINDOW:
            start, end = _day(found.groups()[:3]), _day(found.groups()[3:])
        elif found.re is _UNTIL:
            end = _day(found.groups())
        else:
            start = _day(found.groups())
        if start is None and end is None:
            continue
        # Dates inside a bracket speak of that bracket: "Thiết bị 2.000.000đ/lần (Miễn kể từ … đến …)".
        opened = sentence.rfind("(", 0, found.start())
        lead = sentence[:opened].strip(" -+•:;,") if opened > 0 else ""
        scope_start = opened if opened > 0 else 0
        rest = sentence[scope_start: found.start()] + " " + sentence[found.end():]
        rest_without_law = re.sub(r"(?:Thông tư|Nghị định|Quyết định)\s+(?:số\s+)?[\w/.-]+(?:\s+ngày\s+[\d/]+)?", " ", rest)
        money = _money_in(rest_without_law)
        if percent := _PERCENT.search(rest_without_law):
            share = float(percent.group(1).replace(",", "."))
            clause = DatedClause(start, end, "percent", percent=share, text=sentence, lead=lead)
        elif _FREE.search(rest_without_law) and not money:
            clause = DatedClause(start, end, "free", text=sentence, lead=lead)
        elif money and not (set(money) & set(base)):
            clause = DatedClause(start, end, "amount", amount=Amount(money[0]), text=sentence, lead=lead)
        else:
            clause = DatedClause(start, end, "validity", text=sentence, lead=lead)
        clauses.append(clause)
    return clauses


def _per(fee: Fee, money: Money) -> str:
    unit = re.search(r"/\s*([^\s(),;]+(?:\s[^\s(),;]+)?)", money.text)
    if unit:
        return "/" + unit.group(1).replace("Đồng", "").strip()
    note = fee.text.strip()
    if note.startswith("/") and len(note) <= 30:
        return note
    return ""


def _base(fee: Fee) -> tuple[Amount, ...]:
    """The cell's amounts; a doubtful "40 VNĐ" is 40.000 đ when the note says so, else left out."""
    noted = set(_money_in(fee.text))
    amounts = []
    for money in fee.amounts:
        value = money.value
        if money.doubtful:
            if value * 1000 not in noted:
                continue
            value *= 1000
        amounts.append(Amount(value, money.currency, _per(fee, money)))
    return tuple(amounts)


def fee_on(fee: Fee, day: date, channel: str = "") -> FeeToday:
    """The fee of one channel on `day`: amount, until when, what it becomes, the note sentences in force.

    A clause that names the online way ("theo hình thức trực tuyến") applies to the online channel only.
    """
    base = _base(fee)
    every = dated_clauses(fee.text, tuple(a.value for a in base))
    clauses = [c for c in every if not (channel and channel != "online" and _ONLINE_ONLY.search(c.text))]
    sentences = []
    for sentence in note_sentences(fee.text):
        clause = next((c for c in every if c.text == sentence), None)
        if clause is None or (clause in clauses and clause.holds_on(day)):
            sentences.append(sentence)
        elif len(clause.lead.split()) >= 2 and not _money_in(clause.lead):
            sentences.append(clause.lead)  # what the amount is for, without the ended dates
    if fee.text.startswith("/") and len(fee.text) <= 30:
        sentences = []  # the note is only the unit ("/trang"): already with the amount
    shared = {
        "upcoming": tuple(c for c in clauses if c.start is not None and c.start > day),
        "clauses": tuple(every),
        "abroad": any(a.currency == "USD" for a in base),
        "sentences": tuple(sentences),
    }
    now_kind: Literal["free", "amount", "unknown"] = "amount" if base else ("free" if fee.kind == "free" else "unknown")
    # The cell says "Miễn phí" because of a free window ("Miễn phí từ 07/4/2026 đến 30/6/2026") that has ended:
    # the amounts of the note apply again. Never say "free" after the window; point to the note's amounts.
    ended = [c for c in clauses if c.end is not None and c.end < day and _FREE_WINDOW.search(c.text)]
    if now_kind == "free" and ended and _money_in(fee.text) and not any(
            c.holds_on(day) and c.kind == "free" for c in clauses):
        leads = [c.lead for c in ended if c.lead]
        shared["sentences"] = tuple(dict.fromkeys([*leads, *sentences]))
        return FeeToday("noted", expired_on=max(c.end for c in ended if c.end), **shared)  # type: ignore[arg-type]
    for clause in clauses:
        if clause.kind == "validity" and clause.end is not None and clause.end < day and now_kind == "amount":
            if not any(c.holds_on(day) for c in clauses):
                shared["sentences"] = tuple(s for s in sentences if s != clause.text)
                return FeeToday("expired", base, expired_on=clause.end, **shared)  # type: ignore[arg-type]
    for clause in clauses:
        if not clause.holds_on(day) or clause.kind == "validity":
            continue
        if clause.kind == "free":
            return FeeToday("free", until=clause.end, then=base, **shared)  # type: ignore[arg-type]
        if clause.kind == "percent" and base:
            now = tuple(Amount(round(a.value * clause.percent / 100), a.currency, a.per) for a in base)
            return FeeToday("amount", now, until=clause.end, then=base, **shared)  # type: ignore[arg-type]
        if clause.kind == "amount" and clause.amount is not None:
            per = base[0].per if base else ""
            return FeeToday("amount", (Amount(clause.amount.value, "VND", per),), until=clause.end, then=base,
                            then_free=not base and fee.kind == "free", **shared)  # type: ignore[arg-type]
    in_force_until = [c.end for c in clauses if c.kind == "validity" and c.holds_on(day) and c.end is not None]
    if base and in_force_until:  # "(áp dụng đến hết ngày 31/12/2026 …)": say so, and that the next is not stated
        return FeeToday("amount", base, until=min(in_force_until), **shared)  # type: ignore[arg-type]
    return FeeToday(now_kind, base, **shared)  # type: ignore[arg-type]


def format_amount(amount: Amount) -> str:
    """35000 -> "35.000 đ"; 10 USD -> "10 USD"; with the record's unit ("/trang")."""
    if amount.currency == "USD":
        text = f"{amount.value:g} USD"
    else:
        text = f"{amount.value:,.0f}".replace(",", ".") + " đ"
    return text + (amount.per if amount.per else "")


def mentions_other_charges(*texts: str) -> bool:
    """True when the record speaks of taxes or other charges besides the lệ phí."""
    return any(_OTHER_CHARGES.search(t or "") for t in texts)


def _day_text(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def fee_value(text: Callable[..., str], fee: FeeToday) -> str:
    """One channel's fee on the day in words, for the chat and the desk's printed checklist alike.

    `text(key, **values)` gives the words (a ResponseBook's text: fee_free, fee_until, fee_expired…,
    flows/responses/procedure_info.yml), so that what a person reads stays in YAML.
    """
    amounts = ", ".join(format_amount(a) for a in fee.amounts)
    if fee.kind == "expired":
        return text("fee_expired", amounts=amounts, date=_day_text(fee.expired_on)) if fee.expired_on else text("fee_unknown")
    if fee.kind == "noted":
        return text("fee_noted", date=_day_text(fee.expired_on)) if fee.expired_on else text("fee_unknown")
    if fee.kind == "free":
        value = text("fee_free")
    elif fee.kind == "amount":
        value = amounts
    else:
        return text("fee_unknown")
    if fee.until is not None:
        then = ", ".join(format_amount(a) for a in fee.then) if fee.then else text("fee_free_lower")
        then = then if fee.then or fee.then_free else text("fee_then_unknown")
        value = text("fee_until", value=value, date=_day_text(fee.until), then=then)
    if fee.abroad:
        value = text("fee_abroad", value=value)
    return value
