"""A dossier's status changes: recorded in its history, applied in time order, subscribers told once.

Every change (a one-door system's pushed event, an import, a poll) goes through `apply_change`
inside the caller's transaction: the history row, the new status and one outbox notice per
subscriber are committed together or not at all (the transactional outbox, bot/outbox.py).
An event id already applied is a duplicate; an event older than the status it would replace is
kept in the history but changes nothing and notifies no one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbox import enqueue
from bot.storage.models import Dossier, DossierHistory, DossierSubscription, utcnow
from flows.actions.dossier_status_model import UNKNOWN, status_key
from flows.engine import FLOWS_DIR
from flows.replies import Reply
from flows.responses import ResponseBook
from knowledge import VIETNAM
from nlu.dossier_code import canonical_dossier_code

log = logging.getLogger(__name__)

NOTICE_KIND = "dossier_notice"
APPLIED, DUPLICATE, OLDER = "applied", "duplicate", "older"


class EventError(ValueError):
    """A pushed event that cannot be applied; `field` names the part at fault (events[2].TrangThai)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StatusEvent:
    """One progress report of a one-door system (CapNhatTienDoHoSoMC shape), in our terms."""

    source: str
    event_id: str
    code: str  # canonical
    status: str  # our key, or "unknown"
    raw_status: str
    at: datetime  # UTC, naive (as the database keeps times)
    note: str = ""
    department: str = ""


def vietnam_time(raw: Any) -> datetime:
    """`yyyyMMddHHmmss` in Vietnam time (the portal's format) -> naive UTC; ISO 8601 with an offset also works."""
    text = str(raw or "").strip()
    if text.isdigit() and len(text) == 14:
        local = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=VIETNAM)
    else:
        local = datetime.fromisoformat(text)
        if local.tzinfo is None:
            local = local.replace(tzinfo=VIETNAM)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _field(raw: dict[str, Any], *names: str) -> Any:
    for name in names:
        if raw.get(name) not in (None, ""):
            return raw[name]
    return None


def parse_event(source: str, raw: Any, where: str = "event") -> StatusEvent:
    """A pushed event from its JSON; EventError names the field at fault."""
    if not isinstance(raw, dict):
        raise EventError(where, "mỗi sự kiện phải là một đối tượng JSON")
    event_id = _field(raw, "event_id", "id", "MaSuKien")
    if not isinstance(event_id, (str, int)) or not str(event_id).strip() or len(str(event_id)) > 128:
        raise EventError(f"{where}.event_id", "thiếu 'event_id' (mã sự kiện, tối đa 128 ký tự)")
    typed_code = _field(raw, "MaHoSo", "code")
    code = canonical_dossier_code(str(typed_code or ""))
    if code is None:
        raise EventError(f"{where}.MaHoSo", "'MaHoSo' không phải mã hồ sơ hợp lệ")
    raw_status = _field(raw, "TrangThai", "status")
    if raw_status is None:
        raise EventError(f"{where}.TrangThai", "thiếu 'TrangThai' (1-10 hoặc mã trạng thái)")
    try:
        at = vietnam_time(_field(raw, "ThoiDiemXuLy", "at"))
    except (ValueError, TypeError):
        raise EventError(f"{where}.ThoiDiemXuLy", "'ThoiDiemXuLy' phải có dạng yyyyMMddHHmmss (giờ Việt Nam)") from None
    return StatusEvent(
        source=source, event_id=str(event_id).strip(), code=code, status=status_key(raw_status),
        raw_status=str(raw_status)[:30], at=at, note=" ".join(str(_field(raw, "NoiDungXuLy", "note") or "").split()),
        department=" ".join(str(_field(raw, "PhongBanXuLy", "department") or "").split())[:200],
    )


@lru_cache(maxsize=1)
def _responses() -> ResponseBook:
    return ResponseBook.load(FLOWS_DIR / "responses", FLOWS_DIR.parent)


def notice_replies(code: str, status: str, raw_status: str, at: datetime, responses: ResponseBook | None = None) -> list[Reply]:
    """The notice a subscriber gets: the new status word, when, the next step; no note (second factor)."""
    book = responses or _responses()
    known = status != UNKNOWN
    label = book.text(f"dossier_status_label_{status}") if known else raw_status
    local = at.replace(tzinfo=timezone.utc).astimezone(VIETNAM)
    return book.render(
        "dossier_status_notice", code=code, status_label=label, when=local.strftime("%H:%M %d/%m/%Y"),
        next_step=book.text(f"dossier_status_next_{status}" if known else "dossier_status_next_unknown"),
    )


# ZNS parameters are short (a code or a status: 30 characters); the template's wording is approved by Zalo.
ZNS_PARAM_MAX = 30


def notice_template(code: str, status: str, raw_status: str, at: datetime) -> dict[str, str]:
    """The notice as ZNS template values: ma_ho_so, trang_thai, thoi_gian."""
    book = _responses()
    label = book.text(f"dossier_status_label_{status}") if status != UNKNOWN else raw_status
    local = at.replace(tzinfo=timezone.utc).astimezone(VIETNAM)
    return {"ma_ho_so": code[:ZNS_PARAM_MAX], "trang_thai": label[:ZNS_PARAM_MAX],
            "thoi_gian": local.strftime("%H:%M %d/%m/%Y")}


def notify_subscribers(session: Session, code: str, status: str, raw_status: str, at: datetime) -> int:
    """One outbox notice per active subscriber of `code` for this change; answers how many were enqueued."""
    subscribers = session.execute(
        select(DossierSubscription).where(DossierSubscription.code == code, DossierSubscription.cancelled_at.is_(None))
    ).scalars().all()
    if not subscribers:
        return 0
    replies = notice_replies(code, status, raw_status, at)
    template = notice_template(code, status, raw_status, at)
    count = 0
    for sub in subscribers:
        key = f"dossier:{code}:{status}:{at:%Y%m%d%H%M%S}:{sub.channel}:{sub.user_id}"
        if enqueue(session, sub.channel, sub.user_id, replies, NOTICE_KIND, key, template=template):
            count += 1
        sub.last_status = status
    return count


def apply_change(
    session: Session, code: str, status: str, at: datetime, *, raw_status: str = "", note: str = "",
    department: str = "", source: str = "import", event_id: str | None = None, now: datetime | None = None,
) -> str:
    """Records one change in the caller's transaction: applied, duplicate (event id seen) or older."""
    now = now or utcnow()
    if event_id is not None and session.execute(
        select(DossierHistory.id).where(DossierHistory.source == source, DossierHistory.event_id == event_id)
    ).first():
        return DUPLICATE
    session.add(DossierHistory(
        code=code, status=status if status != UNKNOWN else (raw_status or UNKNOWN)[:30], occurred_at=at,
        note=note, department=department, source=source, event_id=event_id, recorded_at=now,
    ))
    # The row is locked (PostgreSQL) so that two events for one dossier are ordered, not interleaved.
    row = session.execute(select(Dossier).where(Dossier.code == code).with_for_update()).scalar_one_or_none()
    stored = status if status != UNKNOWN else (raw_status or UNKNOWN)[:30]
    if row is None:
        row = Dossier(code=code, status=stored, status_at=at, note=note, procedure_name="", updated_at=now,
                      agency=source[:40])
        session.add(row)
        previous = None
    else:
        if row.status_at is not None and at <= row.status_at:
            return OLDER
        previous = row.status
        row.status, row.status_at, row.updated_at = stored, at, now
        if note or source != "import":
            row.note = note
    session.flush()
    if previous != stored:
        notify_subscribers(session, code, status, raw_status, at)
    return APPLIED


def apply_event(session: Session, event: StatusEvent, now: datetime | None = None) -> str:
    """A one-door system's event, applied once (see apply_change)."""
    return apply_change(
        session, event.code, event.status, event.at, raw_status=event.raw_status, note=event.note,
        department=event.department, source=event.source, event_id=event.event_id, now=now,
    )
