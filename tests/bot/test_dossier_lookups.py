"""A person checks a dossier held by a one-door system (the fake TraCuuHoSo server) through the real
Assistant: each turn asks the system at most once, however many steps of the flow need the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.dossiers.http_provider import HttpDossierProvider
from bot.dossiers.service import DossierService, Route
from bot.settings import Settings
from tests.fakes.onedoor import FakeOneDoor

SPEC = Path(__file__).resolve().parents[2] / "bot" / "data" / "onedoor_example.yml"
CODE = "000.00.19.H29-261120-0031"
DOSSIER = {
    "MaHoSo": CODE, "TrangThai": 5, "TenThuTuc": "Đăng ký thường trú", "NgayTiepNhan": "20261120083000",
    "NgayHenTra": "20261204170000", "NoiDungXuLy": "Thiếu hợp đồng thuê nhà.", "SoDinhDanh": "001090012345",
    "QuaTrinhXuLy": [
        {"ThoiDiemXuLy": "20261120083000", "TrangThai": 2, "NoiDungXuLy": "", "PhongBanXuLy": "Một cửa"},
        {"ThoiDiemXuLy": "20261125140000", "TrangThai": 5, "NoiDungXuLy": "Thiếu hợp đồng thuê nhà.",
         "PhongBanXuLy": "Công an xã"},
    ],
}


@pytest.fixture
def portal():
    with FakeOneDoor.serving({CODE: DOSSIER}) as fake:
        yield fake


@pytest.fixture
def assistant(database_url, nlu_model, portal):
    from bot.runtime import build_assistant

    assistant = build_assistant(Settings.load(environ={"DATABASE_URL": database_url}, env_file=None), nlu=nlu_model)
    provider = HttpDossierProvider.from_file(SPEC, name="tinh-x", environ=portal.environ())
    assistant.dossiers = DossierService(assistant.store, [Route(("000.00.19.H29",), provider)])
    yield assistant
    assistant.close()


def test_each_turn_of_a_verified_lookup_asks_the_one_door_system_once(assistant, portal, user):
    def says(text: str) -> tuple[str, int]:
        before = portal.calls
        turn = assistant.run_turn("web", user, text)
        return "\n".join(r.text for r in turn.replies), portal.calls - before

    said, calls = says(f"tra cứu hồ sơ {CODE}")
    assert "4 số cuối" in said and calls == 1
    said, calls = says("2345")  # the digits are checked and the details shown from one answer
    assert "Thiếu hợp đồng thuê nhà." in said and calls == 1
    said, calls = says(f"/subscribe_status{json.dumps({'dossier_code': CODE})}")
    assert "Đã đăng ký" in said and calls == 1
    said, calls = says(f"tra cứu hồ sơ {CODE}")  # verified lately: straight to the details
    assert "Thiếu hợp đồng thuê nhà." in said and calls == 1
    assert portal.violations == []

