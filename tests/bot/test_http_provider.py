"""The HTTP provider (bot/data/onedoor_example.yml) against a local fake of a one-door system's TraCuuHoSo:
session login, error_code, outages, slow answers, unknown statuses, and the circuit breaker."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from bot.dossiers.http_provider import HttpDossierProvider, SpecError
from bot.dossiers.service import DossierService, Route
from bot.storage import Store
from flows.actions import registry
from flows.engine import FlowEngine
from flows.services import ProviderUnavailable, Services
from nlu.result import ParseResult
from tests.fakes.onedoor import FakeOneDoor

SPEC = Path(__file__).resolve().parents[2] / "bot" / "data" / "onedoor_example.yml"
CODE = "000.00.19.H29-261120-0031"
RESULT = {
    "MaHoSo": CODE, "TrangThai": 5, "TenThuTuc": "Đăng ký thường trú", "MaThuTuc": "1.004222",
    "NgayTiepNhan": "20261120083000", "NgayHenTra": "20261204170000", "NoiDungXuLy": "Thiếu hợp đồng thuê nhà.",
    "SoDinhDanh": "001090012345", "SoDienThoai": "0912345678",
    "QuaTrinhXuLy": [
        {"ThoiDiemXuLy": "20261120083000", "TrangThai": 2, "NoiDungXuLy": "", "PhongBanXuLy": "Một cửa"},
        {"ThoiDiemXuLy": "20261125140000", "TrangThai": 5, "NoiDungXuLy": "Thiếu hợp đồng thuê nhà.",
         "PhongBanXuLy": "Công an xã"},
    ],
}


@pytest.fixture(scope="module")
def portal():
    fake = FakeOneDoor().start()
    yield fake
    fake.stop()


@pytest.fixture
def provider(portal) -> HttpDossierProvider:
    portal.down, portal.slow = False, 0.0
    portal.dossiers = {CODE: dict(RESULT)}
    return HttpDossierProvider.from_file(SPEC, name="tinh-x", environ=portal.environ())


def test_a_dossier_is_read_through_a_session_and_mapped_to_our_terms(provider, portal):
    record = provider.lookup(CODE)
    assert record is not None and record.status == "supplement_required"
    assert record.procedure_name == "Đăng ký thường trú" and record.due_on.isoformat() == "2026-12-04"
    assert record.holder_digits == ("2345", "5678")  # only the last 4 digits are kept
    assert [s.status for s in record.history] == ["received", "supplement_required"]
    assert record.history[1].at.hour == 7  # 14:00 Vietnam time is 07:00 UTC
    assert not portal.violations


def test_an_unknown_code_is_none_and_an_expired_session_logs_in_again(provider, portal):
    assert provider.lookup("000.00.19.H29-261120-9999") is None
    logins = portal.logins
    portal.expire_sessions()
    assert provider.lookup(CODE) is not None
    assert portal.logins == logins + 1


def test_a_status_outside_the_list_is_unknown_never_guessed(provider, portal):
    portal.dossiers[CODE] = {**RESULT, "TrangThai": "ChoKyDuyet"}
    record = provider.lookup(CODE)
    assert record.status == "unknown" and record.raw_status == "ChoKyDuyet"
    portal.dossiers[CODE] = {**RESULT, "TrangThai": "DaTiepNhan"}  # mapped in the spec
    assert provider.lookup(CODE).status == "received"


@pytest.mark.parametrize("fault", ["down", "slow"])
def test_an_outage_fails_within_the_budget_and_then_opens_the_breaker(provider, portal, fault):
    setattr(portal, fault, True if fault == "down" else 5.0)
    for _ in range(provider.breaker.failures):
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            provider.lookup(CODE)
        assert time.monotonic() - started < 3.0
    assert provider.breaker.state == "open"
    calls = portal.calls
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="circuit open"):
        provider.lookup(CODE)
    assert time.monotonic() - started < 0.05 and portal.calls == calls  # the portal is left alone
    portal.down, portal.slow = False, 0.0


def test_the_breaker_closes_again_after_a_successful_trial(provider, portal):
    provider.breaker.reset_seconds = 0.2
    portal.down = True
    for _ in range(provider.breaker.failures):
        with pytest.raises(ProviderUnavailable):
            provider.lookup(CODE)
    portal.down = False
    time.sleep(0.25)
    assert provider.lookup(CODE) is not None and provider.breaker.state == "closed"


def test_a_person_is_answered_politely_within_3_seconds_when_the_portal_is_down(provider, portal, tmp_path):
    portal.down = True
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}")
    service = DossierService(store, [Route(("000.00.19.H29",), provider)],
                             portal_lookup_url="https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html")
    engine = FlowEngine.load(registry)
    started = time.monotonic()
    result = engine.handle(None, ParseResult(text=f"tra cứu hồ sơ {CODE}", intent="check_status", confidence=0.95,
                                             entities={"dossier_code": CODE}),
                           Services(knowledge=None, dossiers=service, user_key="web:h1"), datetime.now())
    elapsed = time.monotonic() - started
    text = "\n".join(r.text for r in result.replies)
    assert elapsed < 3.0 and "tạm thời không hoạt động" in text
    assert any("dichvucong.gov.vn" in link.url for r in result.replies for link in r.links)
    portal.down = False


def test_a_spec_without_its_url_fails_start_up_with_the_line(tmp_path):
    with pytest.raises(SpecError, match="base_url"):
        HttpDossierProvider.from_file(SPEC, environ={})


# -- polling subscribed codes ------------------------------------------------------------------


def test_polling_notices_a_change_once_and_backs_off_while_the_portal_is_down(provider, portal, tmp_path):
    from datetime import timedelta

    from sqlalchemy import select

    from bot.dossiers.poller import Poller
    from bot.storage.models import DossierSubscription, OutboxMessage, utcnow

    store = Store.open(f"sqlite:///{tmp_path / 'poll.db'}")
    service = DossierService(store, [Route(("000.00.19.H29",), provider)])
    poller = Poller(service, timedelta(minutes=15), jitter=0.0)
    service.subscribe("telegram:7", CODE, "supplement_required")
    now = utcnow()
    assert poller.poll_once(now) == 0  # what the person already knows: no notice
    assert poller.due(now + timedelta(minutes=5)) == []  # not before its interval

    portal.dossiers[CODE] = {**RESULT, "TrangThai": 9, "QuaTrinhXuLy": [
        *RESULT["QuaTrinhXuLy"], {"ThoiDiemXuLy": "20261201100000", "TrangThai": 9, "NoiDungXuLy": "Xong"}]}
    later = now + timedelta(minutes=16)
    assert poller.poll_once(later) == 1
    second_worker = Poller(service, timedelta(minutes=15), jitter=0.0)
    with store.session() as session, session.begin():  # another worker polls the same change at once
        session.execute(DossierSubscription.__table__.update().values(polled_at=None))
    assert second_worker.poll_once(later) == 0
    with store.session() as session:
        assert len(session.execute(select(OutboxMessage)).scalars().all()) == 1

    portal.down = True
    provider.breaker.failures = 100
    even_later = later + timedelta(minutes=16)
    assert poller.poll_once(even_later) == 0
    # a failure doubles the wait: due after 30 minutes, not 15
    assert poller.due(even_later + timedelta(minutes=20)) == []
    assert poller.due(even_later + timedelta(minutes=31)) == [CODE]
    portal.down = False


def test_the_providers_file_routes_codes_by_prefix_and_names_a_bad_entry(tmp_path, portal):
    from bot.dossiers.config import ProvidersFileError, load_providers

    good = tmp_path / "providers.yml"
    good.write_text("providers:\n"
                    "  - {name: tinh-x, kind: http, prefixes: ['000.00.19.H29'], spec: bot/data/onedoor_example.yml}\n"
                    "  - {name: local, kind: local, prefixes: ['*']}\n", encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    config = load_providers(good, store, environ=portal.environ())
    service = DossierService(store, [Route(p, provider) for p, provider in config.routes])
    assert service.provider_for(CODE).name == "tinh-x"
    assert service.provider_for("000.00.24.H30-261105-0031").name == "local"
    bad = tmp_path / "bad.yml"
    bad.write_text("providers:\n  - {name: x, kind: ftp, prefixes: ['*']}\n", encoding="utf-8")
    with pytest.raises(ProvidersFileError, match=r"bad.yml:2: kind must be local or http"):
        load_providers(bad, store)
