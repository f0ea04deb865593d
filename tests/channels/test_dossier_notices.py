"""End to end: people look a dossier up and subscribe on Telegram, Zalo and the web chat; the office pushes
"Yêu cầu bổ sung giấy tờ"; each person gets the notice once, on their channel (Zalo out of its window
through ZNS to the phone they agreed to); the same push again changes nothing. Real HTTP everywhere:
the fake Bot API, the fake Zalo OA and ZNS servers, our app on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select, update

from bot.storage.models import OutboxAttempt, OutboxMessage, User, utcnow
from tests.channels.fake_telegram import FakeTelegram, UpdateTracker, wait_until
from tests.channels.fake_zalo import FakeZalo
from tests.channels.fake_zns import FakeZns

CODE = "000.00.19.H12-261116-0012"  # a demo dossier being processed: the ID number ends in 1232
TOKEN = "office-token-0123456789abcdef"
TEMPLATE = "dossier_notice_1"
TG_CHAT, ZALO_IN, ZALO_OUT = 640_000_001, "5550001", "5550002"


@pytest.fixture
def providers_file(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("ONEDOOR_TEST_TOKEN", TOKEN)
    path = tmp_path / "providers.yml"
    path.write_text(
        "providers:\n  - {name: local, kind: local, prefixes: ['*']}\n"
        "push_sources:\n  - {name: office, auth: bearer, secret_env: ONEDOOR_TEST_TOKEN, prefixes: ['000.00.19.H12']}\n",
        encoding="utf-8")
    return path


async def test_a_pushed_change_reaches_each_subscriber_once_on_their_channel(
    tmp_path, providers_file, nlu_model, capsys
):
    from bot.channels import telegram, zalo
    from bot.runtime import build_assistant
    from bot.settings import Settings
    from bot.web import create_app

    tg, za = FakeTelegram(), FakeZalo()
    await tg.start()
    await za.start()
    zns = await FakeZns(za).start()
    zns.add_template(TEMPLATE, {"ma_ho_so": 30, "trang_thai": 30, "thoi_gian": 30})
    zns.phones_with_zalo.add("84912345678")
    settings = dataclasses.replace(
        Settings.load(environ={"DATABASE_URL": f"sqlite:///{tmp_path / 'notices.db'}"}, env_file=None),
        dossier_providers_file=str(providers_file), telegram_bot_token=tg.token, telegram_api_base_url=tg.base_url,
        zalo_zns_base_url=zns.url, zalo_zns_template_id=TEMPLATE, outbox_interval_seconds=1, **za.settings_values(),
    )
    assistant = build_assistant(settings, nlu=nlu_model)
    app = create_app(assistant)
    telegram.attach(app, assistant, settings)
    zalo.attach(app, assistant, settings)
    channel = app[telegram.TELEGRAM]
    tracker = UpdateTracker()
    tracker.install(channel.application)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    za.webhook_url = url + zalo.WEBHOOK_PATH
    # the web chat's visitor is the browser's session cookie (the first answer sets it), never a named user
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await asyncio.wait_for(channel.started.wait(), 15)

        async def tg_says(text: str) -> None:
            await tracker.wait(tg.message(TG_CHAT, text))

        async def tg_press(title: str) -> None:
            last = tg.messages_to(TG_CHAT)[-1]
            await tracker.wait(tg.press(TG_CHAT, last.message_id, last.button(title)["callback_data"]))

        async def zalo_says(user: str, text: str) -> None:
            assert await za.user_sends_text(user, text) == 200
            await app[zalo.ZALO].drain()

        async def web_says(text: str) -> dict:
            async with http.post(url + "/api/chat", json={"text": text}) as response:
                assert response.status == 200
                return await response.json()

        # -- everyone looks the dossier up, gives the 4 digits and subscribes
        await tg_says(f"tra cứu hồ sơ {CODE}")
        await tg_says("1232")
        await tg_press("Báo cho tôi khi có thay đổi")
        assert "Đã đăng ký" in tg.messages_to(TG_CHAT)[-1].text

        await zalo_says(ZALO_IN, f"tra cứu hồ sơ {CODE}")
        await zalo_says(ZALO_IN, "1232")
        await zalo_says(ZALO_IN, "🔔 Báo cho tôi khi có thay đổi")  # Zalo sends a pressed button's title
        assert any("Đã đăng ký" in m["text"] for m in za.messages_to(ZALO_IN)[-3:])

        await zalo_says(ZALO_OUT, f"tra cứu hồ sơ {CODE}")
        await zalo_says(ZALO_OUT, "1232")
        await zalo_says(ZALO_OUT, "🔔 Báo cho tôi khi có thay đổi")
        await zalo_says(ZALO_OUT, "📱 Nhận tin qua số điện thoại")
        assert "bạn gửi số điện thoại" in za.messages_to(ZALO_OUT)[-1]["text"]
        await zalo_says(ZALO_OUT, "số của tôi là 0912 345 678")
        assert "091*****78" in za.messages_to(ZALO_OUT)[-1]["text"]
        # ... and then says nothing for 8 days: Zalo's window closes
        with assistant.store.session() as session, session.begin():
            session.execute(update(User).where(User.channel == "zalo", User.external_id == ZALO_OUT)
                            .values(last_seen_at=utcnow() - timedelta(days=8)))
        za.make_unreachable(ZALO_OUT, -230)

        await web_says(f"tra cứu hồ sơ {CODE}")
        await web_says("1232")
        subscribed = await web_says(f'/subscribe_status{{"dossier_code": "{CODE}"}}')
        assert "Đã đăng ký" in subscribed["replies"][0]["text"]

        # -- the office pushes the change
        tg_before, zalo_before = len(tg.messages_to(TG_CHAT)), len(za.messages_to(ZALO_IN))
        event = {"event_id": "hn-77", "MaHoSo": CODE, "TrangThai": 5, "ThoiDiemXuLy": "20261201093000",
                 "NoiDungXuLy": "Bổ sung bản chụp hợp đồng thuê nhà.", "PhongBanXuLy": "Bộ phận một cửa"}
        headers = {"X-OneDoor-Source": "office", "Authorization": f"Bearer {TOKEN}"}
        pushed = time.monotonic()
        async with http.post(url + "/api/dossiers/events", json=event, headers=headers) as response:
            assert response.status == 200 and (await response.json())["results"][0]["result"] == "applied"
        acknowledged = time.monotonic() - pushed

        await wait_until(lambda: len(tg.messages_to(TG_CHAT)) > tg_before, 10, "the Telegram notice")
        tg_latency = time.monotonic() - pushed
        await wait_until(lambda: len(za.messages_to(ZALO_IN)) > zalo_before, 10, "the Zalo notice")
        zalo_latency = time.monotonic() - pushed
        await wait_until(lambda: zns.sent, 10, "the ZNS message")
        zns_latency = time.monotonic() - pushed

        text = tg.messages_to(TG_CHAT)[-1].text
        assert CODE in text and "Cần bổ sung giấy tờ" in text and "Bổ sung bản chụp" not in text
        assert "Cần bổ sung giấy tờ" in za.messages_to(ZALO_IN)[-1]["text"]
        [template] = zns.sent
        assert template.phone == "84912345678" and template.template_data["ma_ho_so"] == CODE
        assert template.template_data["trang_thai"] == "Cần bổ sung giấy tờ"
        assert not zns.violations and not za.violations

        # the ZNS delivery receipt comes back through the OA webhook (at once: perhaps before our sender has
        # recorded Zalo's msg_id) and is stored
        assert await za.deliver(zns.receipt_event(template.msg_id)) == 200

        def received() -> bool:
            with assistant.store.session() as session:
                return session.execute(select(OutboxMessage.received_at).where(
                    OutboxMessage.provider_message_id == template.msg_id)).scalar_one_or_none() is not None

        await wait_until(received, 10, "the receipt stored")
        with assistant.store.session() as session:
            codes = session.execute(select(OutboxAttempt.via, OutboxAttempt.error_code)).all()
        assert ("zns", None) in codes

        # the web chat shows it at the next visit, once
        visit = await web_says("xin chào")
        assert any(CODE in r["text"] and "Cần bổ sung giấy tờ" in r["text"] for r in visit["replies"])
        again = await web_says("cảm ơn")
        assert not any("vừa có thay đổi" in r["text"] for r in again["replies"])

        # the same push again (the office retried): nothing more is sent
        async with http.post(url + "/api/dossiers/events", json=event, headers=headers) as response:
            assert (await response.json())["results"][0]["result"] == "duplicate"
        await asyncio.sleep(1.5)
        assert len(tg.messages_to(TG_CHAT)) == tg_before + 1
        assert len(za.messages_to(ZALO_IN)) == zalo_before + 1 and len(zns.sent) == 1

        with capsys.disabled():
            print(f"\nnotice latency (push -> message sent): ack {acknowledged * 1000:.0f} ms, telegram "
                  f"{tg_latency * 1000:.0f} ms, zalo {zalo_latency * 1000:.0f} ms, zns {zns_latency * 1000:.0f} ms")
    finally:
        await http.close()
        await runner.cleanup()
        await zns.close()
        await za.close()
        await tg.close()
