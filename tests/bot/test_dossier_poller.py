"""Two workers' pollers on one database against the fake one-door server: one polls, the other takes
over when its lease lapses, and a change is noticed once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dossiers.http_provider import HttpDossierProvider
from bot.dossiers.poller import Poller
from bot.dossiers.service import DossierService, Route
from bot.storage import Store
from bot.storage.models import DossierSubscription, OutboxMessage, utcnow
from tests.fakes.onedoor import FakeOneDoor

SPEC = Path(__file__).resolve().parents[2] / "bot" / "data" / "onedoor_example.yml"
CODE = "000.00.19.H29-261120-0031"
RECEIVED = {"ThoiDiemXuLy": "20261120083000", "TrangThai": 2, "NoiDungXuLy": "", "PhongBanXuLy": "Một cửa"}
DOSSIER = {"MaHoSo": CODE, "TrangThai": 2, "TenThuTuc": "Đăng ký thường trú", "NgayTiepNhan": "20261120083000",
           "NgayHenTra": "20261204170000", "SoDinhDanh": "001090012345", "QuaTrinhXuLy": [RECEIVED]}
DONE = {**DOSSIER, "TrangThai": 9, "QuaTrinhXuLy": [
    RECEIVED, {"ThoiDiemXuLy": "20261201100000", "TrangThai": 9, "NoiDungXuLy": "Xong", "PhongBanXuLy": "Một cửa"}]}
LEASE = timedelta(minutes=3)


@pytest.fixture
def portal():
    with FakeOneDoor.serving({CODE: DOSSIER}) as fake:
        yield fake


def worker(database_url: str, portal: FakeOneDoor) -> Poller:
    """One worker's poller: its own connection pool and provider, the shared database."""
    store = Store.open(database_url)
    provider = HttpDossierProvider.from_file(SPEC, name="tinh-x", environ=portal.environ())
    return Poller(DossierService(store, [Route(("000.00.19.H29",), provider)]), timedelta(minutes=15),
                  jitter=0.0, lease_ttl=LEASE)


def due_now(poller: Poller) -> None:
    with poller.store.session() as session, session.begin():
        session.execute(DossierSubscription.__table__.update().values(polled_at=None))


def notices(poller: Poller) -> int:
    with poller.store.session() as session:
        return len(session.execute(select(OutboxMessage.id)).all())


def test_one_worker_polls_the_other_takes_over_when_its_lease_lapses_and_a_change_is_told_once(database_url, portal):
    first, second = worker(database_url, portal), worker(database_url, portal)
    first.service.subscribe("telegram:7", CODE, "received")
    now = utcnow()
    assert first.poll_once(now) == 0 and portal.calls == 1  # the first poll: what the person knows
    assert second.poll_once(now) == 0 and portal.calls == 1  # the lease is held: the portal is left alone

    portal.dossiers[CODE] = DONE
    later = now + timedelta(minutes=16)
    assert first.poll_once(later) == 1 and notices(first) == 1
    calls = portal.calls
    assert second.poll_once(later) == 0 and portal.calls == calls and notices(second) == 1

    # `first` stops (a crash: it never gives the lease back); `second` takes over once the lease lapses
    portal.dossiers[CODE] = {**DONE, "TrangThai": 10, "QuaTrinhXuLy": [
        *DONE["QuaTrinhXuLy"], {"ThoiDiemXuLy": "20261202090000", "TrangThai": 10, "NoiDungXuLy": ""}]}
    due_now(second)  # so that only the lease decides who polls
    calls = portal.calls
    still_held = later + LEASE - timedelta(seconds=1)
    assert second.poll_once(still_held) == 0 and portal.calls == calls
    lapsed = later + LEASE + timedelta(seconds=1)
    assert second.poll_once(lapsed) == 1 and portal.calls == calls + 1 and notices(second) == 2
    assert first.poll_once(lapsed) == 0  # back from the dead: the lease is `second`'s now
    assert portal.calls == calls + 1 and notices(first) == 2


def test_a_clean_stop_hands_the_polling_over_at_once(database_url, portal):
    first, second = worker(database_url, portal), worker(database_url, portal)
    first.service.subscribe("zalo:8", CODE, "received")
    now = utcnow()
    assert first.poll_once(now) == 0 and portal.calls == 1
    first.release()
    calls = portal.calls
    due_now(second)
    assert second.poll_once(now) == 0 and portal.calls == calls + 1
