"""POST /api/dossiers/events: who may push, each event applied once in time order, one notice per subscriber;
and the lookup limits that make enumerating codes fail."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.dossiers import LocalDossierProvider, save_dossiers
from bot.dossiers.config import PushSource
from bot.dossiers.service import DossierService, LookupLimits, Route
from bot.outbox import Delivery, Dispatcher
from bot.storage import Store
from bot.storage.models import Dossier, DossierHistory, LookupAttempt, OutboxMessage, utcnow
from bot.web.dossier_events import PATH, register_dossier_events
from flows.replies import Reply
from flows.services import DossierRecord

CODE = "000.00.19.H12-261120-0007"
TOKEN = "t0ken-for-the-hcm-one-door-system"
SECRET = "hmac-secret-of-the-hanoi-one-door"


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Reply]]] = []

    async def send(self, user_id: str, replies: list[Reply], **_: object) -> Delivery:
        self.sent.append((user_id, replies))
        return Delivery("sent", via="test", message_id=f"m{len(self.sent)}")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'events.db'}")
    save_dossiers(store, [DossierRecord(CODE, "received", "Đăng ký tạm trú", "1.004194", date(2026, 11, 20),
                                              holder_digits=("1231",))])
    return store


@pytest.fixture
def service(store: Store) -> DossierService:
    service = DossierService(store, [Route(("*",), LocalDossierProvider(store))],
                             LookupLimits(per_user=5, per_code=8, window=timedelta(hours=1)))
    service.push_sources = {
        "hcm": PushSource("hcm", "bearer", TOKEN, ("000.00.19.H12",)),
        "hn": PushSource("hn", "hmac", SECRET, ("000.00.24.H30",)),
    }
    service.dispatcher = Dispatcher(store)
    return service


@pytest.fixture
def sender(service) -> Recording:
    """The channels' sender for this test, registered before the app's dispatcher starts."""
    sender = Recording()
    service.dispatcher.register("telegram", sender)
    service.dispatcher.register("zalo", sender)
    return sender


@pytest.fixture
async def client(aiohttp_client, service, sender):
    app = web.Application()
    register_dossier_events(app, service)
    return await aiohttp_client(app)


def event(event_id: str, status: int | str, at: str, note: str = "", code: str = CODE) -> dict:
    return {"event_id": event_id, "MaHoSo": code, "TrangThai": status, "ThoiDiemXuLy": at,
            "NoiDungXuLy": note, "PhongBanXuLy": "Bộ phận một cửa", "NguoiXuLy": "Cán bộ A"}


async def push(client, *events: dict, source: str = "hcm", token: str = TOKEN):
    response = await client.post(PATH, json={"events": list(events)},
                                 headers={"X-OneDoor-Source": source, "Authorization": f"Bearer {token}"})
    return response.status, await response.json()


def notices(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


async def deliver(service: DossierService) -> Recording:
    """Dispatches what is due (racing the app's own dispatcher, as a second worker would) until nothing is left."""
    while await service.dispatcher.dispatch_once():
        pass
    for _ in range(200):
        if not {r.status for r in notices(service.store)} & {"pending", "sending"}:
            break
        await asyncio.sleep(0.01)
    return service.dispatcher.senders["telegram"]


async def test_a_change_pushed_once_notifies_each_subscriber_once(client, service, store):
    service.subscribe("telegram:111", CODE, "received")
    service.subscribe("zalo:222", CODE, "received")
    status, body = await push(client, event("e1", 5, "20261201093000", "Thiếu hợp đồng thuê nhà."))
    assert status == 200 and body == {"results": [{"event_id": "e1", "result": "applied"}]}
    sender = await deliver(service)
    assert sorted(user for user, _ in sender.sent) == ["111", "222"]
    text = sender.sent[0][1][0].text
    assert CODE in text and "Cần bổ sung giấy tờ" in text and "09:30 01/12/2026" in text
    assert "Thiếu hợp đồng" not in text  # the note needs the second factor
    assert [b.title for b in sender.sent[0][1][0].buttons] == ["🔎 Xem chi tiết", "🔕 Huỷ theo dõi"]
    record = service.lookup(CODE)
    assert record.status == "supplement_required" and record.note == "Thiếu hợp đồng thuê nhà."
    assert [step.status for step in record.history] == ["received", "supplement_required"]


async def test_the_same_event_pushed_twice_notifies_once(client, service, store):
    service.subscribe("telegram:111", CODE, "received")
    assert (await push(client, event("e1", 4, "20261201093000")))[1]["results"][0]["result"] == "applied"
    assert (await push(client, event("e1", 4, "20261201093000")))[1]["results"][0]["result"] == "duplicate"
    sender = await deliver(service)
    assert len(sender.sent) == 1 and len(notices(store)) == 1


async def test_events_out_of_order_are_applied_by_their_time_and_notify_once(client, service, store):
    service.subscribe("telegram:111", CODE, "received")
    status, body = await push(client, event("late", 9, "20261203100000"), event("early", 4, "20261202080000"))
    assert [r["result"] for r in body["results"]] == ["applied", "older"]
    sender = await deliver(service)
    assert len(sender.sent) == 1 and "Đã có kết quả" in sender.sent[0][1][0].text
    record = service.lookup(CODE)
    assert record.status == "result_ready"
    assert [s.status for s in record.history] == ["received", "processing", "result_ready"]  # in time order


async def test_a_status_outside_the_list_is_unknown_and_shown_as_the_office_wrote_it(client, service):
    service.subscribe("telegram:111", CODE, "received")
    await push(client, event("odd", "chuyen_tham_dinh", "20261201093000"))
    sender = await deliver(service)
    assert "chuyen_tham_dinh" in sender.sent[0][1][0].text
    assert service.lookup(CODE).status == "unknown"


async def test_an_unsubscribed_person_gets_nothing(client, service, store):
    service.subscribe("telegram:111", CODE, "received")
    assert service.unsubscribe("telegram:111") == 1
    await push(client, event("e1", 4, "20261201093000"))
    assert notices(store) == []


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"X-OneDoor-Source": "hcm"}, 401),
    ({"X-OneDoor-Source": "hcm", "Authorization": "Bearer wrong-token-wrong-token"}, 401),
    ({"X-OneDoor-Source": "nobody", "Authorization": f"Bearer {TOKEN}"}, 401),
])
async def test_who_pushes_must_prove_it(client, store, headers, status):
    response = await client.post(PATH, json=event("e1", 4, "20261201093000"), headers=headers)
    assert response.status == status
    with store.session() as session:
        assert session.execute(select(Dossier.status).where(Dossier.code == CODE)).scalar_one() == "received"


async def test_an_hmac_signed_push_is_accepted_and_a_stale_signature_refused(client, service):
    code = "000.00.24.H30-261105-0031"
    body = json.dumps(event("h1", 2, "20261201093000", code=code)).encode()

    def headers(stamp: int) -> dict[str, str]:
        mac = hmac.new(SECRET.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-OneDoor-Source": "hn", "X-OneDoor-Timestamp": str(stamp), "X-OneDoor-Signature": f"sha256={mac}",
                "Content-Type": "application/json"}

    stale = await client.post(PATH, data=body, headers=headers(int(time.time()) - 3600))
    assert stale.status == 401
    fresh = await client.post(PATH, data=body, headers=headers(int(time.time())))
    assert fresh.status == 200 and service.lookup(code).status == "received"


async def test_a_source_cannot_report_another_agencys_dossier(client):
    status, body = await push(client, event("x", 4, "20261201093000", code="000.00.24.H30-261105-0031"))
    assert status == 403 and body["field"] == "events[0].MaHoSo"


@pytest.mark.parametrize("bad, field", [
    ({"MaHoSo": CODE, "TrangThai": 4, "ThoiDiemXuLy": "20261201093000"}, "events[1].event_id"),
    ({"event_id": "b", "MaHoSo": "not-a-code", "TrangThai": 4, "ThoiDiemXuLy": "20261201093000"}, "events[1].MaHoSo"),
    ({"event_id": "b", "MaHoSo": CODE, "ThoiDiemXuLy": "20261201093000"}, "events[1].TrangThai"),
    ({"event_id": "b", "MaHoSo": CODE, "TrangThai": 4, "ThoiDiemXuLy": "01/12/2026"}, "events[1].ThoiDiemXuLy"),
])
async def test_a_bad_event_names_its_field_and_nothing_of_the_batch_is_applied(client, store, bad, field):
    status, body = await push(client, event("good", 4, "20261201093000"), bad)
    assert status == 400 and body["field"] == field and body["error"]
    with store.session() as session:
        assert session.execute(select(DossierHistory).where(DossierHistory.event_id == "good")).first() is None


# -- limits ------------------------------------------------------------------------------------


def test_200_code_guesses_from_one_user_are_refused_after_the_limit(service, store):
    allowed = 0
    for n in range(200):
        guess = f"000.00.19.H12-261120-{n:04d}"
        if service.allow_lookup("web:prober", guess):
            allowed += 1
            service.record_lookup("web:prober", guess, "not_found")
    assert allowed == 5  # the per-user limit of this service
    assert service.allow_lookup("web:someone-else", CODE)  # others are not held back
    with store.session() as session:
        hashes = session.execute(select(LookupAttempt.code_hash)).scalars().all()
    assert all(CODE not in h and len(h) == 32 for h in hashes)  # codes are not stored, only keyed hashes


def test_the_limit_holds_across_workers_because_it_lives_in_the_database(service, store):
    other_worker = DossierService(store, service.routes, service.limits)
    for n in range(5):
        service.record_lookup("zalo:p", f"000.00.19.H12-261120-{n:04d}", "not_found")
    assert not other_worker.allow_lookup("zalo:p", CODE)


def test_guessing_one_codes_4_digits_from_many_accounts_is_refused_after_its_limit(service):
    for n in range(8):
        assert service.allow_digits(f"web:u{n}", CODE)
        service.record_lookup(f"web:u{n}", CODE, "digits_wrong")
    assert not service.allow_digits("web:u99", CODE)
    assert service.allow_lookup("web:u99", CODE)  # the status word stays available


def test_the_limit_window_passes(service, store):
    for n in range(5):
        service.record_lookup("web:p", f"000.00.19.H12-261120-{n:04d}", "not_found")
    assert not service.allow_lookup("web:p", CODE)
    service.clock = lambda: utcnow() + timedelta(hours=2)
    assert service.allow_lookup("web:p", CODE)


def test_every_lookup_is_logged_with_the_code_masked(service, caplog):
    with caplog.at_level("INFO", logger="bot.dossiers.service"):
        service.record_lookup("web:p", CODE, "found")
    from bot.privacy import MaskingFilter

    line = caplog.records[-1]
    MaskingFilter().filter(line)
    assert CODE not in line.getMessage() and "mã hồ sơ" in line.getMessage()


async def test_deleting_my_data_removes_my_subscriptions_and_waiting_notices(client, service, store):
    with store.session() as session, session.begin():
        store.conversation_for(session, "telegram", "111", utcnow())
    service.subscribe("telegram:111", CODE, "received")
    service.subscribe("telegram:222", CODE, "received")
    await push(client, event("e1", 4, "20261201093000"))
    assert store.forget("telegram", "111") > 0
    rows = notices(store)
    assert [r.user_id for r in rows] == ["222"]
    assert service.unsubscribe("telegram:111") == 0
