"""kill -9 while notices are being sent, restart on the same database: each subscriber is told exactly once,
and the office pushing the same event again (its retry) changes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dossiers import save_dossiers
from bot.dossiers.service import DossierService
from bot.storage import Store
from bot.storage.models import OutboxMessage
from flows.services import DossierRecord

ROOT = Path(__file__).resolve().parents[2]
CODE = "000.00.19.H12-261120-0007"
TOKEN = "restart-test-token-0123456789"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    def __init__(self, tmp: Path, env: dict[str, str], name: str):
        self.port_file = tmp / f"{name}.port"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.dossier_server"], cwd=ROOT,
            env={**os.environ, **env, "PORT_FILE": str(self.port_file)},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        port = _wait(lambda: self.port_file.exists() and self.port_file.read_text(), 60, f"{name} to listen")
        self.url = f"http://127.0.0.1:{port}/api/dossiers/events"

    def push(self, event: dict) -> str:
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST", headers={
            "Content-Type": "application/json", "X-OneDoor-Source": "office", "Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["results"][0]["result"]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def setup(tmp_path: Path):
    db = tmp_path / "restart.db"
    store = Store.open(f"sqlite:///{db}")
    save_dossiers(store, [DossierRecord(CODE, "received", "Đăng ký tạm trú", "1.004194", date(2026, 11, 20))])
    service = DossierService(store, [])
    service.subscribe("telegram:1001", CODE, "received")
    service.subscribe("telegram:1002", CODE, "received")
    providers = tmp_path / "providers.yml"
    providers.write_text("providers:\n  - {name: local, kind: local, prefixes: ['*']}\npush_sources:\n"
                         "  - {name: office, auth: bearer, secret_env: ONEDOOR_RESTART_TOKEN, prefixes: ['*']}\n")
    env = {"DATABASE_URL": f"sqlite:///{db}", "DOSSIER_PROVIDERS_FILE": str(providers),
           "ONEDOOR_RESTART_TOKEN": TOKEN, "SENT_LOG": str(tmp_path / "sent.log"),
           "OUTBOX_INTERVAL_SECONDS": "1", "OUTBOX_LEASE_SECONDS": "1"}
    return store, env, tmp_path / "sent.log"


def _statuses(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.execute(select(OutboxMessage.status)).scalars())


def test_killed_mid_send_then_restarted_each_subscriber_is_told_exactly_once(setup, tmp_path):
    store, env, sent_log = setup
    event = {"event_id": "ev-1", "MaHoSo": CODE, "TrangThai": 5, "ThoiDiemXuLy": "20261201093000"}
    first = Server(tmp_path, {**env, "HANG_SENDS": "1"}, "first")
    try:
        assert first.push(event) == "applied"
        _wait(lambda: "sending" in _statuses(store), 10, "a notice being sent")
    finally:
        first.kill()  # mid-send: the platform never answered
    assert not sent_log.exists()

    second = Server(tmp_path, env, "second")
    try:
        assert second.push(event) == "duplicate"  # the office retries after the outage
        _wait(lambda: _statuses(store) == ["delivered", "delivered"], 20, "both notices delivered")
        # a new change pushed, acknowledged, and the server killed at once: the next start sends it
        assert second.push({**event, "event_id": "ev-2", "TrangThai": 9, "ThoiDiemXuLy": "20261202100000"}) == "applied"
    finally:
        second.kill()

    third = Server(tmp_path, env, "third")
    try:
        _wait(lambda: _statuses(store).count("delivered") == 4, 20, "the second change delivered")
        time.sleep(1.5)  # nothing more arrives
    finally:
        third.kill()
    lines = sent_log.read_text(encoding="utf-8").splitlines()
    assert sorted(line.split("\t")[0] for line in lines) == ["1001", "1001", "1002", "1002"]
    assert len(lines) == 4 and len(_statuses(store)) == 4
