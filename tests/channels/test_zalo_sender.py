"""The Zalo outbox sender against a turn of the same person running at the same moment (real fake Zalo, real DB)."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest
from sqlalchemy import select

from bot.assistant import OFFERED
from bot.channels.zalo_sender import ZaloSender
from bot.settings import Settings
from bot.storage import Message, User
from bot.storage.models import Conversation
from flows.replies import Button, Reply
from knowledge import fold_words
from tests.channels.fake_zalo import FakeZalo, ZaloRig

NOTICE_BUTTON = Button(title="📄 Xem chi tiết hồ sơ", payload="/check_status")


@pytest.fixture
async def rig(new_database, nlu_model):
    settings = Settings.load(environ={"DATABASE_URL": new_database("zalo_sender")}, env_file=None)
    fake = await FakeZalo().start()
    rig = ZaloRig(fake, settings, nlu_model)
    await rig.start()
    yield rig
    await rig.stop()
    await fake.close()


def state_of(rig: ZaloRig, user: str) -> dict:
    with rig.assistant.store.session() as session:
        return session.execute(
            select(Conversation.flow_state).join(User).where(User.channel == "zalo", User.external_id == user)
            .order_by(Conversation.updated_at.desc()).limit(1)).scalar_one()


def said_in(rig: ZaloRig, user: str) -> list[str]:
    with rig.assistant.store.session() as session:
        return list(session.execute(
            select(Message.text).join(Conversation).join(User)
            .where(User.channel == "zalo", User.external_id == user, Message.direction == "in").order_by(Message.id)
        ).scalars())


async def test_a_notice_sent_during_a_turn_keeps_its_buttons_and_the_turn_keeps_its_state(rig, user):
    fake, assistant = rig.fake, rig.assistant
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    # The person's next message is being understood (slowly) when the notice goes out.
    understood, go_on = threading.Event(), threading.Event()
    understand = assistant.understand

    def slow_understand(text: str):
        understood.set()
        go_on.wait(10)
        return understand(text)

    assistant.understand = slow_understand
    try:
        await fake.user_sends_text(user, "tra cứu hồ sơ")
        assert await asyncio.to_thread(understood.wait, 10)
        sender = ZaloSender(rig.channel, 168, "http://127.0.0.1:9", "")
        notice = [Reply(text="Hồ sơ của bạn vừa có thay đổi.", buttons=[NOTICE_BUTTON])]
        sending = asyncio.create_task(sender.send(user, notice))
        await asyncio.sleep(0.3)  # time enough for the notice to be written, were it not waiting for the turn
        go_on.set()
        await rig.settle()
        delivery = await asyncio.wait_for(sending, 10)
    finally:
        assistant.understand = understand
    assert delivery.outcome == "sent"
    assert any("Hồ sơ của bạn vừa có thay đổi" in m["text"] for m in fake.messages_to(user))
    state = state_of(rig, user)
    assert state["stack"][-1]["flow"] == "dossier_status"  # the turn's own state, not one read before it
    assert state[OFFERED][fold_words(NOTICE_BUTTON.title)] == NOTICE_BUTTON.payload
    # and the person pressing the notice's button (Zalo sends its title) is understood as the button
    await fake.user_sends_text(user, NOTICE_BUTTON.title)
    await rig.settle()
    assert said_in(rig, user)[-1] == NOTICE_BUTTON.payload


# --- the webhook's work stays off the event loop ---------------------------------------------


class WriteLock:
    """Another process holding the database's write lock on the events table for a while (a backup, a migration)."""

    def __init__(self, store) -> None:
        self.store = store
        self.release = threading.Event()
        self.taken = threading.Event()

    def hold(self) -> None:
        engine = self.store.engine
        if engine.dialect.name == "sqlite":
            import sqlite3

            connection = sqlite3.connect(engine.url.database, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            self.taken.set()
            self.release.wait(10)
            connection.execute("ROLLBACK")
            connection.close()
            return
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("LOCK TABLE channel_events IN ACCESS EXCLUSIVE MODE")
            self.taken.set()
            self.release.wait(10)


async def test_a_webhook_waiting_on_the_database_holds_up_no_other_request(rig, user):
    fake = rig.fake
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    lock = WriteLock(rig.assistant.store)
    holder = asyncio.create_task(asyncio.to_thread(lock.hold))
    assert await asyncio.to_thread(lock.taken.wait, 10)
    try:
        event = fake.event(user, text="cảm ơn bạn")
        stored = asyncio.create_task(fake.deliver(event))  # its insert waits for the lock
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.3)
        health_url = fake.webhook_url.replace("/webhooks/zalo", "/healthz")
        async with aiohttp.ClientSession() as http, http.get(health_url) as response:
            assert response.status == 200
        receipt = {**fake.event(user, event_name="user_received_message"), "sender": {"id": fake.oa_id}}
        assert await fake.deliver(receipt) == 200
        answered_in = asyncio.get_running_loop().time() - started - 0.3
    finally:
        lock.release.set()
        await holder
    if await asyncio.wait_for(stored, 10) == 503:  # the database gave up waiting: Zalo sends it again
        assert await fake.deliver(event) == 200
    await rig.settle()
    assert answered_in < 0.5
    assert said_in(rig, user) == ["xin chào", "cảm ơn bạn"]
