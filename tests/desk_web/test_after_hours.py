"""Outside DESK_SCHEDULE the assistant says when someone will answer and, with consent, takes a number."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.assistant import Assistant
from bot.desk import StoredDesk
from bot.desk_hours import parse_schedule
from bot.handover import Handover
from bot.storage import Store

FRIDAY_EVENING = datetime(2026, 12, 4, 11, 0)  # 18:00 in Vietnam, after the desk closed
SCHEDULE = "mon-fri 07:30-11:30,13:30-17:00"


@pytest.fixture
def after_hours(tmp_path, assistant) -> Assistant:
    store = Store.open(f"sqlite:///{tmp_path / 'after-hours.db'}")
    desk = StoredDesk(store, clock=lambda: FRIDAY_EVENING, schedule=parse_schedule(SCHEDULE))
    bot = Assistant(nlu=assistant.nlu, engine=assistant.engine, store=store, knowledge=assistant.knowledge, desk=desk,
                    clock=lambda: FRIDAY_EVENING)
    bot.handover = Handover(store, assistant.engine.responses)
    return bot


def said(turn) -> str:
    return "\n".join(r.text for r in turn.replies)


async def test_after_hours_the_person_is_told_monday_0730_and_leaves_a_number(after_hours):
    turn = await after_hours.handle("web", "late-1", "tôi muốn gặp cán bộ")
    assert "ngoài giờ làm việc" in said(turn) and "07:30 ngày 07/12" in said(turn)
    assert [b.title for b in turn.buttons][:2] == ["📞 Có, gọi lại cho tôi", "Không cần"]
    turn = await after_hours.handle("web", "late-1", turn.buttons[0].payload)
    assert "số điện thoại di động" in said(turn)
    turn = await after_hours.handle("web", "late-1", "091234567")  # a digit short
    assert "chưa đúng số di động" in said(turn)
    turn = await after_hours.handle("web", "late-1", "0912 345 678")
    assert "091****678" in said(turn) and "0912345678" not in said(turn)
    [ticket] = after_hours.handover.inbox("new", _staff())
    assert after_hours.handover.ticket(ticket.id).callback_phone == "0912345678"


async def test_after_hours_no_thanks_keeps_no_number(after_hours):
    turn = await after_hours.handle("web", "late-2", "cho tôi gặp cán bộ")
    turn = await after_hours.handle("web", "late-2", "không cần")
    assert "trả lời bạn ngay trong cuộc trò chuyện này" in said(turn)
    [ticket] = after_hours.handover.inbox("new", _staff())
    assert after_hours.handover.ticket(ticket.id).callback_phone == ""


def test_the_schedule_says_when_the_desk_opens_next():
    schedule = parse_schedule(SCHEDULE + "; sat 07:30-11:30")
    assert schedule.next_opening(FRIDAY_EVENING) == datetime(2026, 12, 5, 7, 30)
    assert schedule.next_opening(datetime(2026, 12, 4, 2, 0)) is None  # 09:00 Friday: answering
    assert parse_schedule("").always
    with pytest.raises(ValueError, match="hh:mm"):
        parse_schedule("mon-fri 7h-17h")
    with pytest.raises(ValueError, match="days"):
        parse_schedule("thu2-thu6 07:30-17:00")


def _staff():
    from bot.users import DeskUser

    return DeskUser(1, "x", "x", "staff")
