"""The database gone and back, Zalo and Telegram failing during a burst: polite errors, nothing accepted is lost.

In one process (the real app, real HTTP to the local fakes) so each fault is placed exactly.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.settings import Settings
from bot.storage import ChannelEvent, Conversation, Message, User
from tests.channels.fake_telegram import FakeTelegram, running_bot, wait_until
from tests.channels.fake_zalo import FakeZalo, ZaloRig
from tests.faults import report


@pytest.fixture
def own_settings(tmp_path) -> Settings:
    return Settings.load(environ={"DATABASE_URL": f"sqlite:///{tmp_path / 'outage.db'}"}, env_file=None)


@pytest.fixture
async def zalo(own_settings, nlu_model):
    fake = await FakeZalo().start()
    rig = ZaloRig(fake, own_settings, nlu_model)
    yield rig
    await rig.stop()
    await fake.close()


@contextmanager
def database_locked(path):
    """Another process holding the write lock, as a long migration or a full disk does: writes fail."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def turns_of(rig: ZaloRig, channel: str, user: str) -> list[str]:
    with rig.assistant.store.session() as session:
        return list(session.execute(
            select(Message.text).join(Conversation).join(User)
            .where(User.channel == channel, User.external_id == user, Message.direction == "in").order_by(Message.id)
        ).scalars())


def zalo_statuses(rig: ZaloRig) -> Counter:
    with rig.assistant.store.session() as session:
        return Counter(session.execute(select(ChannelEvent.status).where(ChannelEvent.channel == "zalo")).scalars())


async def test_the_database_unavailable_then_back_gets_polite_errors_and_loses_nothing_accepted(zalo, own_settings):
    rig, fake = zalo, zalo.fake
    await rig.start()
    db = own_settings.database_url_resolved[len("sqlite:///"):]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web_client:
        base = str(rig.server.make_url("/"))
        await web_client.get(base)
        assert await fake.user_sends_text("zalo-before", "xin chào") == 200  # accepted just before the outage
        with database_locked(db):
            async with web_client.post(base + "api/chat", json={"text": "xin chào"}) as response:
                web_status, web_body = response.status, await response.json()
            refused = fake.event("zalo-during", text="xin chào", msg_id="during-1")
            zalo_status = await fake.deliver(refused)
        assert web_status == 500 and web_body["error"] == rig.assistant.engine.responses.text("internal_error")
        assert zalo_status == 503  # not stored, so not accepted: Zalo delivers it again
        # Back: Zalo retries what it was refused, the page's "Thử lại" sends again, the sweep finds the rest.
        assert await fake.deliver(refused) == 200
        async with web_client.post(base + "api/chat", json={"text": "xin chào"}) as response:
            assert response.status == 200 and (await response.json())["replies"]
        await rig.settle()
        rig.channel.inbox.lease = timedelta(0)  # the claims the outage broke have outlived their lease
        rig.channel.sweep()
        await rig.settle()
    assert turns_of(rig, "zalo", "zalo-before") == ["xin chào"] and turns_of(rig, "zalo", "zalo-during") == ["xin chào"]
    assert zalo_statuses(rig) == Counter({"done": 2})
    for user in ("zalo-before", "zalo-during"):
        parts = [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in fake.messages_to(user)]
        assert parts and len(parts) == len(set(parts)), parts  # a part sent but not marked was not sent again
    report.record("fault", "the database unavailable (write lock held 5 s) during a web turn and a Zalo event, then back",
                  "web: 500 with the Vietnamese apology, answered on “Thử lại”; Zalo: 503, answered when Zalo sent it "
                  "again; an event accepted just before: answered after", "yes: every accepted message answered once")


async def test_zalo_failing_during_a_burst_is_waited_out_and_each_reply_part_arrives_once(zalo):
    rig, fake = zalo, zalo.fake
    await rig.start(backoff=(0.05, 0.1, 0.2))
    rig.channel.api.timeout_s = 2.0
    await rig.channel.api.close()
    await rig.channel.api.open()
    users = [f"burst-{n}" for n in range(8)]
    fake.go_down(3)  # 503s
    fake.fail_next(-32, times=3)  # rate limited
    fake.stall(2)  # never answered: our timeout fires
    started = time.monotonic()
    for user in users:
        assert await fake.user_sends_text(user, "làm giấy khai sinh cần giấy tờ gì") == 200
    await rig.settle()
    for _ in range(3):  # later rounds, as the sweeper runs them
        if zalo_statuses(rig) == Counter({"done": len(users)}):
            break
        rig.channel.sweep()
        await rig.settle()
    assert zalo_statuses(rig) == Counter({"done": len(users)})
    for user in users:
        # A part is its text and its buttons: a reply's buttons past the first five come in parts that share
        # the "more choices" heading, so the text alone does not tell one part from another.
        parts = [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in fake.messages_to(user)]
        assert parts and len(parts) == len(set(parts)), f"{user} got {parts}"
    assert not fake.violations
    report.record("fault", f"Zalo during a burst of {len(users)} messages: 3× HTTP 503, 3× error -32 (rate limit), "
                  "2 sends never answered (timeout)", f"all answered in {time.monotonic() - started:.1f} s, "
                  "each part once", "yes")


async def test_telegram_failing_during_a_burst_is_waited_out(settings, nlu_model, tmp_path):
    from bot.runtime import build_assistant

    own = replace(settings, database_url=f"sqlite:///{tmp_path / 'tg-burst.db'}")
    assistant = build_assistant(own, nlu=nlu_model)
    fake = FakeTelegram()
    await fake.start()
    try:
        async with running_bot(assistant, own, fake) as bot:
            chats = [720_000_001 + n for n in range(6)]
            fake.fail_next("sendMessage", 429, retry_after=1, times=2)
            fake.fail_next("sendMessage", 502, description="Bad Gateway", times=2)
            started = time.monotonic()
            updates = [fake.message(chat, "xin chào") for chat in chats]
            for update_id in updates:
                await bot.tracker.wait(update_id, timeout=60)
            await wait_until(lambda: all(fake.messages_to(c) for c in chats), 30, "every chat to be answered")
            for chat in chats:
                texts = [m.text for m in fake.messages_to(chat)]
                assert len(texts) == len(set(texts))
            assert not fake.rejected
    finally:
        await fake.close()
    report.record("fault", f"Telegram during a burst of {len(chats)} messages: 2× HTTP 429 (retry_after 1 s), 2× HTTP 502",
                  f"all answered in {time.monotonic() - started:.1f} s, each message once", "yes")
    assert timedelta(seconds=time.monotonic() - started) < timedelta(seconds=60)
    await asyncio.sleep(0)
