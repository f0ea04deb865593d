"""The figures page: a date range, per day or week, cards, inline SVG charts and tables; every table as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from bot.desk_figures import ONLINE_TARGET, PARTS, Figures, Period, compute
from bot.desk_web.keys import assistant, settings
from bot.desk_web.render import page
from bot.desk_web.security import allow
from bot.privacy import mask
from knowledge import vietnam_date

routes = web.RouteTableDef()
WORDS = Path(__file__).resolve().parent / "figures.yml"
DEFAULT_DAYS = 30
MAX_DAYS = 731
TABLES = ("series", "procedures", "unanswered", "summary")
CHART_W, CHART_H, CHART_PAD = 640, 180, 28
# What each CSV needs computed (the summary needs everything but the two long lists).
CSV_PARTS = {
    "series": ("ratings", "submissions", "conversations", "understanding", "handover"),
    "procedures": ("procedures",),
    "unanswered": ("unanswered",),
    "summary": ("ratings", "submissions", "conversations", "understanding", "handover", "notices"),
}


@lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    return yaml.safe_load(WORDS.read_text(encoding="utf-8"))


def period_of(query: Any, today: date) -> Period:
    """The range asked for in ?from=YYYY-MM-DD&to=...&by=day|week; the last 30 days when absent or wrong."""
    by = query.get("by", "day") if query.get("by") in ("day", "week") else "day"
    try:
        last = date.fromisoformat(query.get("to", "")) if query.get("to") else today
        first = date.fromisoformat(query.get("from", "")) if query.get("from") else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        last, first = today, today - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS))
    return Period(first, last, by)


def buckets(period: Period) -> list[str]:
    """Every day (or Monday of every week) in the period, so quiet days show as zero."""
    day = period.first - timedelta(days=period.first.weekday()) if period.by == "week" else period.first
    step = timedelta(days=7 if period.by == "week" else 1)
    out = []
    while day <= period.last:
        out.append(day.isoformat())
        day += step
    return out


def _pct(part: int, whole: int) -> float | str:
    return round(100 * part / whole, 1) if whole else ""


def series_rows(f: Figures) -> list[list[Any]]:
    conversations = dict(f.conversation_series)
    understanding = {b: (a, n) for b, a, n in f.understanding_series}
    satisfaction = {b: (s, t) for b, s, t in f.satisfaction_series}
    submissions = {b: (o, t) for b, o, t in f.submission_series}
    handover = {b: (t, a) for b, t, a in f.handover_series}
    rows = []
    for b in buckets(f.period):
        answered, missed = understanding.get(b, (0, 0))
        satisfied, rated = satisfaction.get(b, (0, 0))
        online, submitted = submissions.get(b, (0, 0))
        tickets, replied = handover.get(b, (0, 0))
        rows.append([b, conversations.get(b, 0), answered, missed, rated, _pct(satisfied, rated), submitted,
                     _pct(online, submitted), tickets, replied])
    return rows


def summary_rows(f: Figures) -> list[list[Any]]:
    names = words()["summary_rows"]
    answered, missed = f.questions
    values = {
        "ratings": sum(f.ratings.values()),
        "satisfaction": round(100 * f.satisfaction, 1) if f.satisfaction is not None else "",
        "submissions": sum(f.submissions.values()),
        "online_share": round(100 * f.online_share, 1) if f.online_share is not None else "",
        "conversations": sum(n for _, n in f.conversation_series),
        "answered": answered, "not_understood": missed,
        "tickets": f.handover["tickets"], "tickets_answered": f.handover["answered"],
        "average_wait": f.handover["average_wait_minutes"] if f.handover["average_wait_minutes"] is not None else "",
        "within_hour": f.handover["within_hour"], "within_8_hours": f.handover["within_8_hours"],
        "callbacks": f.handover["callbacks"], "status_lookups": f.status_lookups, "notices": sum(f.notices.values()),
    }
    return [[names[k], v] for k, v in values.items()]


def table(name: str, f: Figures, knowledge: Any) -> tuple[list[str], list[list[Any]]]:
    columns = words()[name]["columns"]
    if name == "series":
        return columns, series_rows(f)
    if name == "procedures":
        return columns, [[c, getattr(knowledge.get(c), "name", ""), n] for c, n in f.top_procedures]
    if name == "unanswered":
        return columns, [[t, n] for t, n in f.unanswered]
    return columns, summary_rows(f)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: Any
    y2: float = 0.0  # a second, stacked part (answered vs not understood)
    h2: float = 0.0


def bars(rows: list[tuple[str, float, float]], fixed_top: float | None = None) -> dict[str, Any]:
    """Geometry of a bar chart (one or two stacked values per bucket), drawn as SVG by the template."""
    top = fixed_top or max([a + b for _, a, b in rows] + [1])
    inner_h = CHART_H - 2 * CHART_PAD
    width = (CHART_W - 2 * CHART_PAD) / max(len(rows), 1)
    out = []
    for i, (label, a, b) in enumerate(rows):
        h1, h2 = inner_h * a / top, inner_h * b / top
        base = CHART_H - CHART_PAD
        out.append(Bar(CHART_PAD + i * width + width * 0.12, base - h1, width * 0.76, h1, label[5:], a, base - h1 - h2, h2))
    every = max(1, len(rows) // 10)
    return {"bars": out, "top": top, "w": CHART_W, "h": CHART_H, "pad": CHART_PAD, "every": every}


@routes.get("/figures")
@allow("staff", "admin")
async def figures_page(request: web.Request) -> web.Response:
    """Cards, charts and tables for the chosen range; the SQL runs off the event loop."""
    period = period_of(request.query, _today())
    bot = assistant(request)
    f = await asyncio.to_thread(compute, bot.store.engine, period, settings(request).nlu_confidence)
    rows = series_rows(f)
    query = f"from={period.first}&to={period.last}&by={period.by}"
    target = [(r[0], float(r[7] or 0), 0.0) for r in rows]
    return await page(
        request, "figures.html", nav="figures", f=f, period=period, words=words(), query=query,
        series=rows, target=ONLINE_TARGET,
        procedures=table("procedures", f, bot.knowledge)[1], summary=summary_rows(f),
        chart_conversations=bars([(r[0], r[1], 0) for r in rows]),
        chart_understanding=bars([(r[0], r[2], r[3]) for r in rows]),
        chart_online=bars(target, fixed_top=100.0),
    )


@routes.get("/figures.csv")
@allow("staff", "admin")
async def figures_csv(request: web.Request) -> web.Response:
    """One table as CSV, UTF-8 with BOM so Excel reads Vietnamese correctly."""
    name = request.query.get("table", "summary")
    if name not in TABLES:
        raise web.HTTPNotFound()
    period = period_of(request.query, _today())
    bot = assistant(request)
    limit = 5000 if name == "unanswered" else 50
    f = await asyncio.to_thread(compute, bot.store.engine, period, settings(request).nlu_confidence, limit,
                                CSV_PARTS.get(name, PARTS))
    columns, rows = table(name, f, bot.knowledge)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[mask(str(v)) if isinstance(v, str) else v for v in row] for row in rows])
    filename = f"so-lieu-{name}-{period.first}-{period.last}.csv"
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        headers={"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store"},
    )


def _today() -> date:
    from bot.storage.models import utcnow

    return vietnam_date(utcnow())
