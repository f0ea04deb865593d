"""The province's figures for a date range, per day or week, each aggregated in SQL (GROUP BY on
indexed time columns), never by looping over rows in Python: satisfaction, assisted submissions and
the online share, conversations, understood or not, top procedures, unanswered questions, handover
tickets and waits, status lookups and notices sent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Integer, case, cast, distinct, func, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from bot.privacy import mask
from bot.storage.models import (
    AssistedSubmission,
    Conversation,
    Feedback,
    Message,
    OutboxMessage,
    Ticket,
    User,
)
from knowledge import VIETNAM as VIETNAM_ZONE

VIETNAM = VIETNAM_ZONE.utcoffset(None)  # one definition: knowledge.VIETNAM
ONLINE_TARGET = 0.40  # the province's target share of submissions made online
SATISFIED = ("very_satisfied", "satisfied")
# Messages that are not questions to the assistant: staff-held, giving the bot back, the lookup tool.
NOT_QUESTIONS = ("desk_held", "desk_release")
LEFT_OUT_CHANNELS = ("desk",)
UNANSWERED_SHOWN = 50
UNANSWERED_EXPORT = 5000
TOP_PROCEDURES = 15
PARALLEL_QUERIES = 3  # connections one page load may use at once


@dataclass(frozen=True)
class Period:
    """Local (Vietnam) days [first, last], grouped by day or week."""

    first: date
    last: date
    by: str = "day"  # day, week

    @property
    def start(self) -> datetime:  # UTC, as stored
        return datetime.combine(self.first, datetime.min.time()) - VIETNAM

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time()) - VIETNAM


@dataclass
class Figures:
    """Every figure of the dashboard; tables are (rows of plain values) for the page and the CSV."""

    period: Period
    ratings: dict[str, int] = field(default_factory=dict)
    satisfaction_series: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, satisfied, total
    submissions: dict[str, int] = field(default_factory=dict)
    submission_series: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, online, total
    conversation_series: list[tuple[str, int]] = field(default_factory=list)
    understanding_series: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, answered, not
    top_procedures: list[tuple[str, int]] = field(default_factory=list)
    unanswered: list[tuple[str, int]] = field(default_factory=list)
    handover: dict[str, Any] = field(default_factory=dict)
    handover_series: list[tuple[str, int, int]] = field(default_factory=list)  # bucket, tickets, answered
    status_lookups: int = 0
    notices: dict[str, int] = field(default_factory=dict)

    @property
    def satisfaction(self) -> float | None:
        total = sum(self.ratings.values())
        return sum(self.ratings.get(r, 0) for r in SATISFIED) / total if total else None

    @property
    def online_share(self) -> float | None:
        total = sum(self.submissions.values())
        return self.submissions.get("online", 0) / total if total else None

    @property
    def questions(self) -> tuple[int, int]:
        return sum(a for _, a, _ in self.understanding_series), sum(n for _, _, n in self.understanding_series)


def _bucket(engine: Engine, column: Any, by: str) -> ColumnElement:
    """The local day (or the Monday of its week) of a stored UTC time, as 'YYYY-MM-DD' text."""
    if engine.dialect.name == "sqlite":
        if by == "week":  # 'weekday 0' moves to the coming Sunday (or stays), then back to that week's Monday
            return func.date(column, "+7 hours", "weekday 0", "-6 days")
        return func.date(column, "+7 hours")
    local = column + literal_column("interval '7 hours'")
    day = func.date_trunc("week" if by == "week" else "day", local)
    return func.to_char(day, "YYYY-MM-DD")


def _seconds(engine: Engine, later: Any, earlier: Any) -> ColumnElement:
    if engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def not_understood(threshold: float) -> ColumnElement:
    """A typed message the assistant did not understand (what the fallback flow answers)."""
    return (Message.confidence < threshold) | Message.intent.is_(None) | (Message.intent == "nlu_fallback")


def _questions(period: Period) -> list[ColumnElement]:
    """Typed messages from citizens in the period (button presses start with '/')."""
    return [
        Message.created_at >= period.start, Message.created_at < period.end, Message.direction == "in",
        ~Message.text.startswith("/"), Message.intent.is_(None) | Message.intent.not_in(NOT_QUESTIONS),
    ]


PARTS = ("ratings", "submissions", "conversations", "understanding", "procedures", "unanswered", "handover", "notices")


def compute(engine: Engine, period: Period, threshold: float, unanswered_limit: int = UNANSWERED_SHOWN,
            parts: tuple[str, ...] = PARTS) -> Figures:
    """The figures asked for (`parts`; all by default), one aggregate query each."""
    figures = Figures(period)
    in_range = {
        Feedback: (Feedback.created_at >= period.start, Feedback.created_at < period.end),
        AssistedSubmission: (AssistedSubmission.created_at >= period.start, AssistedSubmission.created_at < period.end),
        Ticket: (Ticket.created_at >= period.start, Ticket.created_at < period.end),
    }
    # The three passes over messages are the slow ones: each runs on its own connection, in parallel
    # (SQLite in WAL mode and PostgreSQL both serve concurrent readers); the small tables follow.
    jobs: list[Callable[[Any], None]] = []
    if "understanding" in parts:
        jobs.append(lambda db: _understanding(db, engine, period, figures, threshold))
    if "procedures" in parts:
        jobs.append(lambda db: _procedures(db, period, figures))
    if "unanswered" in parts:
        jobs.append(lambda db: _unanswered(db, period, figures, threshold, unanswered_limit))

    def small(db: Any) -> None:
        if "ratings" in parts:
            _ratings(db, engine, period, figures, in_range[Feedback])
        if "submissions" in parts:
            _submissions(db, engine, period, figures, in_range[AssistedSubmission])
        if "conversations" in parts:
            _conversations(db, engine, period, figures)
        if "handover" in parts:
            _handover(db, engine, period, figures, in_range[Ticket])
        if "notices" in parts:
            _notices(db, period, figures, threshold)

    jobs.append(small)

    def run(job: Callable[[Any], None]) -> None:
        with engine.connect() as db:
            job(db)

    if len(jobs) == 1:
        run(jobs[0])
    else:
        with ThreadPoolExecutor(max_workers=min(len(jobs), PARALLEL_QUERIES)) as pool:
            for done in [pool.submit(run, job) for job in jobs]:
                done.result()
    return figures


def _ratings(db: Any, engine: Engine, period: Period, figures: Figures, in_range: Any) -> None:
    """Satisfaction: ratings by level, and per bucket the satisfied ones among all."""
    figures.ratings = {str(r): int(n) for r, n in db.execute(
        select(Feedback.rating, func.count()).where(Feedback.kind == "rating", *in_range).group_by(Feedback.rating))}
    bucket = _bucket(engine, Feedback.created_at, period.by).label("bucket")
    figures.satisfaction_series = [(str(b), int(s or 0), int(t)) for b, s, t in db.execute(
        select(bucket, func.sum(cast(Feedback.rating.in_(SATISFIED), Integer)), func.count())
        .where(Feedback.kind == "rating", *in_range).group_by(bucket).order_by(bucket))]


def _submissions(db: Any, engine: Engine, period: Period, figures: Figures, in_range: Any) -> None:
    """Assisted submissions by method, and per bucket the online ones among all."""
    figures.submissions = {str(m): int(n) for m, n in db.execute(
        select(AssistedSubmission.method, func.count()).where(*in_range).group_by(AssistedSubmission.method))}
    bucket = _bucket(engine, AssistedSubmission.created_at, period.by).label("bucket")
    figures.submission_series = [(str(b), int(o or 0), int(t)) for b, o, t in db.execute(
        select(bucket, func.sum(case((AssistedSubmission.method == "online", 1), else_=0)), func.count())
        .where(*in_range).group_by(bucket).order_by(bucket))]


def _conversations(db: Any, engine: Engine, period: Period, figures: Figures) -> None:
    """Conversations started per bucket (the volunteers' lookup tool is not a citizen's conversation)."""
    bucket = _bucket(engine, Conversation.started_at, period.by).label("bucket")
    figures.conversation_series = [(str(b), int(n)) for b, n in db.execute(
        select(bucket, func.count()).join(User, Conversation.user_id == User.id)
        .where(Conversation.started_at >= period.start, Conversation.started_at < period.end,
               User.channel.not_in(LEFT_OUT_CHANNELS))
        .group_by(bucket).order_by(bucket))]


def _understanding(db: Any, engine: Engine, period: Period, figures: Figures, threshold: float) -> None:
    """Typed questions per bucket, answered vs not understood, and the status lookups among them."""
    missed = not_understood(threshold)
    bucket = _bucket(engine, Message.created_at, period.by).label("bucket")
    rows = db.execute(
        select(bucket, func.count(), func.sum(case((missed, 1), else_=0)),
               func.sum(case(((Message.intent == "check_status") & ~missed, 1), else_=0)))
        .where(*_questions(period)).group_by(bucket).order_by(bucket)).all()
    figures.understanding_series = [(str(b), int(t) - int(n or 0), int(n or 0)) for b, t, n, _ in rows]
    figures.status_lookups = sum(int(s or 0) for *_, s in rows)


def _procedures(db: Any, period: Period, figures: Figures) -> None:
    """The procedures most conversations were about."""
    asked = func.count(distinct(Message.conversation_id)).label("asked")
    figures.top_procedures = [(str(c), int(n)) for c, n in db.execute(
        select(Message.procedure_code, asked)
        .where(*_questions(period), Message.procedure_code.is_not(None))
        .group_by(Message.procedure_code).order_by(asked.desc(), Message.procedure_code).limit(TOP_PROCEDURES))]


def _unanswered(db: Any, period: Period, figures: Figures, threshold: float, limit: int) -> None:
    """What was not understood, the same words grouped, most frequent first (personal numbers masked)."""
    words = func.lower(func.trim(Message.text)).label("words")
    times = func.count().label("times")
    figures.unanswered = [(mask(str(w)), int(n)) for w, n in db.execute(
        select(words, times).where(*_questions(period), not_understood(threshold))
        .group_by(words).order_by(times.desc(), words).limit(limit))]


def _handover(db: Any, engine: Engine, period: Period, figures: Figures, in_range: Any) -> None:
    """Tickets, how many staff answered, the wait to the first answer."""
    wait = _seconds(engine, Ticket.first_answer_at, Ticket.created_at)
    row = db.execute(select(
        func.count(), func.sum(case((Ticket.first_answer_at.is_not(None), 1), else_=0)),
        func.avg(case((Ticket.first_answer_at.is_not(None), wait))),
        func.sum(case((wait <= 3600, 1), else_=0)), func.sum(case((wait <= 8 * 3600, 1), else_=0)),
        func.sum(case((Ticket.callback_phone.is_not(None), 1), else_=0)),
    ).where(*in_range)).one()
    figures.handover = {
        "tickets": int(row[0] or 0), "answered": int(row[1] or 0),
        "average_wait_minutes": round(float(row[2]) / 60, 1) if row[2] is not None else None,
        "within_hour": int(row[3] or 0), "within_8_hours": int(row[4] or 0), "callbacks": int(row[5] or 0),
    }
    bucket = _bucket(engine, Ticket.created_at, period.by).label("bucket")
    figures.handover_series = [(str(b), int(t), int(a or 0)) for b, t, a in db.execute(
        select(bucket, func.count(), func.sum(case((Ticket.first_answer_at.is_not(None), 1), else_=0)))
        .where(*in_range).group_by(bucket).order_by(bucket))]


def _notices(db: Any, period: Period, figures: Figures, threshold: float) -> None:
    """Messages the outbox delivered in the period, by kind (dossier notices, staff answers)."""
    figures.notices = {str(k): int(n) for k, n in db.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.created_at >= period.start, OutboxMessage.created_at < period.end,
               OutboxMessage.status == "delivered")
        .group_by(OutboxMessage.kind))}
