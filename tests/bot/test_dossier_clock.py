"""The dossier flow's "today" is the turn's day in Vietnam (the engine's clock), not the server's wall clock:
a code received after the turn's day is explained as a date not yet come; a dossier past its due day is overdue."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.dossiers import LocalDossierProvider, save_dossiers
from bot.storage import Store
from flows.actions import registry
from flows.engine import FlowEngine
from flows.services import DossierRecord, Services
from knowledge import in_vietnam, vietnam_date
from nlu.result import ParseResult

# A turn long before the server's day (a replayed conversation, a test clock): 10 January 2025, 20:00 UTC,
# which is already 11 January in Vietnam.
TURN = datetime(2025, 1, 10, 20, 0)
# Received before the server's day, due after it: overdue only once the turn's day is past the due day.
LATE = DossierRecord("000.00.19.H12-261102-0007", "processing", "Đăng ký tạm trú", None, date(2026, 11, 2),
                     date(2027, 1, 10))
LATER_TURN = datetime(2027, 2, 1, 2, 0)


@pytest.fixture
def services(tmp_path) -> Services:
    store = Store.open(f"sqlite:///{tmp_path / 'clock.db'}")
    save_dossiers(store, [LATE])
    return Services(knowledge=None, dossiers=LocalDossierProvider(store))


def said(services: Services, text: str, now: datetime = TURN) -> str:
    engine = FlowEngine.load(registry)
    result = engine.handle(None, ParseResult(text=text, intent="check_status", confidence=0.95), services, now)
    return "\n".join(r.text for r in result.replies)


def test_the_turns_day_is_the_day_in_vietnam():
    assert vietnam_date(TURN) == date(2025, 1, 11) and in_vietnam(TURN).hour == 3


def test_a_code_received_after_the_turns_day_is_a_date_not_yet_come(services):
    reply = said(services, "tra cứu hồ sơ 000.00.19.H12-250112-0001")
    assert "12/01/2025, ngày này chưa tới" in reply
    assert "chưa tới" not in said(services, "tra cứu hồ sơ 000.00.19.H12-250111-0001")  # that day in Vietnam


def test_a_dossier_due_before_the_turns_day_is_overdue(services):
    assert "Quá hạn" in said(services, f"tra cứu hồ sơ {LATE.code}", LATER_TURN)
    assert "Quá hạn" not in said(services, f"tra cứu hồ sơ {LATE.code}", LATER_TURN - timedelta(days=30))
