"""The Zalo OA channel over real HTTP: signed webhooks in from a fake Zalo, Open API calls out to it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.durable import CLAIM_LEASE
from bot.channels.zalo import MAX_TEXT, render, split_text
from bot.settings import Settings
from bot.storage import ChannelEvent, ChannelState, Message, User
from bot.storage.models import Conversation, utcnow
from flows.replies import Button, ChecklistItem, Link, Reply
from tests.channels.fake_zalo import FakeZalo, ZaloRig


@pytest.fixture(scope="module")
def zalo_settings(new_database) -> Settings:
    return Settings.load(environ={"DATABASE_URL": new_database("zalo")}, env_file=None)


@pytest.fixture(scope="module")
def zalo_assistant(zalo_settings, nlu_model):
    from bot.runtime import build_assistant

    return build_assistant(zalo_settings, nlu=nlu_model)


@pytest.fixture
async def fake():
    fake = await FakeZalo().start()
    yield fake
    await fake.close()


@pytest.fixture
async def rig(fake, zalo_settings, nlu_model, zalo_assistant):
    rig = ZaloRig(fake, zalo_settings, nlu_model, zalo_assistant)
    yield rig
    await rig.stop()


def events_of(rig: ZaloRig, user: str) -> list[ChannelEvent]:
    with rig.assistant.store.session() as session:
        events = session.execute(select(ChannelEvent).where(ChannelEvent.channel == "zalo").order_by(ChannelEvent.id))
        return [e for e in events.scalars() if e.payload.get("sender", {}).get("id") == user]


def user_row(rig: ZaloRig, user: str) -> User:
    with rig.assistant.store.session() as session:
        return session.execute(select(User).where(User.channel == "zalo", User.external_id == user)).scalar_one()


def said_in(rig: ZaloRig, user: str) -> list[str]:
    with rig.assistant.store.session() as session:
        rows = session.execute(
            select(Message.text).join(Conversation).join(User)
            .where(User.channel == "zalo", User.external_id == user, Message.direction == "in").order_by(Message.id)
        )
        return list(rows.scalars())


def buttons_of(message: dict) -> list[dict]:
    return message.get("attachment", {}).get("payload", {}).get("buttons", [])


# --- in: the webhook ------------------------------------------------------------------------


async def test_a_signed_message_is_accepted_at_once_and_answered_through_the_open_api(rig, fake, user):
    await rig.start()
    started = time.monotonic()
    status = await fake.user_sends_text(user, "xin chào")
    answered_in = time.monotonic() - started
    await rig.settle()
    assert status == 200 and answered_in < 2.0  # Zalo wants its 200 within about 2 s
    sent = fake.messages_to(user)
    menu = rig.assistant.engine.responses.render("main_menu")
    offered = [b for m in sent for b in buttons_of(m)]
    assert [b["title"] for b in offered] == [b.title for r in menu for b in r.buttons]
    assert all(b["type"] == "oa.query.show" for b in offered)
    assert fake.violations == []
    [event] = events_of(rig, user)
    assert event.status == "done" and event.attempts == 1
    assert "text" not in event.payload["message"] and event.payload["message"]["msg_id"]  # privacy, dedup id kept


async def test_a_pressed_button_comes_back_as_its_title_and_moves_the_conversation_on(rig, fake, user):
    await rig.start()
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    check_status = next(b for m in fake.messages_to(user) for b in buttons_of(m) if "Tra cứu hồ sơ" in b["title"])
    before = len(fake.messages_to(user))
    await fake.user_sends_text(user, check_status["payload"])  # Zalo sends the payload (our title) as text
    await rig.settle()
    assert said_in(rig, user) == ["xin chào", "/check_status"]  # stored as the button it pressed
    assert "/" not in check_status["payload"]  # what the chat shows is the title, not an internal payload
    assert any("mã hồ sơ" in m["text"] for m in fake.messages_to(user)[before:]) and fake.violations == []


@pytest.mark.parametrize("how", ["wrong key", "missing", "body changed after signing", "wrong app id"])
async def test_a_badly_signed_event_is_refused_and_not_stored(rig, fake, user, how):
    await rig.start()
    event = fake.event(user, text="xin chào")
    raw = json.dumps(event).encode()
    if how == "wrong key":
        status = await fake.deliver(event, signature="mac=" + "0" * 64)
    elif how == "missing":
        status = await fake.deliver(event, signature="")
    elif how == "body changed after signing":
        tampered = json.dumps({**event, "sender": {"id": "someone-else"}}).encode()
        status = await fake.deliver(event, signature=fake.sign(raw, event["timestamp"]), body=tampered)
    else:
        fake.app_id = "another-app"
        status = await fake.deliver(event)
    await rig.settle()
    assert status == 401
    assert events_of(rig, user) == [] and fake.sent == []


@pytest.mark.parametrize("minutes, accepted", [(-6, False), (6, False), (-4, True)])
async def test_an_event_signed_too_long_ago_or_ahead_is_refused(rig, fake, user, minutes, accepted):
    await rig.start()
    timestamp = int((time.time() + minutes * 60) * 1000)
    status = await fake.deliver(fake.event(user, text="xin chào", timestamp_ms=timestamp))
    await rig.settle()
    assert status == (200 if accepted else 403)
    assert len(events_of(rig, user)) == (1 if accepted else 0)


async def test_a_retried_event_is_answered_once(rig, fake, user, zalo_assistant):
    await rig.start()
    control = f"{user}-control"
    await fake.user_sends_text(control, "làm giấy khai sinh cần giấy tờ gì")
    await rig.settle()
    event = fake.event(user, text="làm giấy khai sinh cần giấy tờ gì")
    statuses = await asyncio.gather(fake.deliver(event), fake.deliver(event))  # Zalo retrying at once
    await rig.settle()
    statuses.append(await fake.deliver(event))  # and again after the answer
    await rig.settle()
    assert statuses == [200, 200, 200]
    assert said_in(rig, user) == ["làm giấy khai sinh cần giấy tờ gì"]
    assert len(fake.messages_to(user)) == len(fake.messages_to(control)) > 0
    assert len(events_of(rig, user)) == 1


async def test_events_stored_before_a_crash_are_answered_once_and_in_order_after_the_restart(rig, fake, user):
    await rig.start(process_events=False)  # stores, then "crashes" before answering
    assert await fake.user_sends_text(user, "xin chào") == 200
    assert await fake.user_sends_text(user, "cảm ơn") == 200
    await rig.settle()
    assert fake.sent == [] and [e.status for e in events_of(rig, user)] == ["pending", "pending"]

    await rig.restart()
    await rig.settle()
    assert said_in(rig, user) == ["xin chào", "cảm ơn"]
    assert [e.status for e in events_of(rig, user)] == ["done", "done"]
    answered = len(fake.messages_to(user))
    thanks = rig.assistant.engine.responses.render("thanks")[0].text
    assert fake.messages_to(user)[-1]["text"] == thanks  # the second message was answered last

    await rig.restart()
    await rig.settle()
    assert len(fake.messages_to(user)) == answered and said_in(rig, user) == ["xin chào", "cảm ơn"]


async def test_two_servers_recovering_the_same_events_answer_each_once(rig, fake, zalo_settings, nlu_model, user):
    users = [f"{user}-{n}" for n in range(4)]
    await rig.start(process_events=False)
    for someone in users:
        await fake.user_sends_text(someone, "xin chào")
    await rig.stop()
    first = ZaloRig(fake, zalo_settings, nlu_model)
    second = ZaloRig(fake, zalo_settings, nlu_model)
    try:
        await asyncio.gather(first.start(), second.start())
        await asyncio.gather(first.settle(), second.settle())
        for someone in users:
            assert said_in(rig, someone) == ["xin chào"]
            assert [(e.status, e.attempts) for e in events_of(rig, someone)] == [("done", 1)]
        assert len({len(fake.messages_to(someone)) for someone in users}) == 1
    finally:
        await asyncio.gather(first.stop(), second.stop())


async def test_a_shutdown_before_the_turn_ran_gives_the_event_back_for_the_next_start(rig, fake, user):
    await rig.start(shutdown_grace=0.05)
    never = asyncio.Event()
    real_handle = rig.assistant.handle

    async def stuck(*args, **kwargs):
        await never.wait()

    rig.assistant.handle = stuck
    try:
        await fake.user_sends_text(user, "xin chào")
        for _ in range(200):  # until the worker has claimed it and is stuck in the turn
            if [e.status for e in events_of(rig, user)] == ["processing"]:
                break
            await asyncio.sleep(0.01)
        assert [e.status for e in events_of(rig, user)] == ["processing"]
        await rig.stop()
    finally:
        rig.assistant.handle = real_handle
    assert [e.status for e in events_of(rig, user)] == ["pending"]
    await rig.restart()
    await rig.settle()
    assert [e.status for e in events_of(rig, user)] == ["done"] and said_in(rig, user) == ["xin chào"]


def _dead_claim_time(rig):
    """When a worker that has since died (kill -9) claimed an event. On SQLite one worker serves the database,
    so at start every claim is a dead predecessor's, however young. On PostgreSQL other workers may be alive
    and holding young claims: a claim is a dead worker's once its lease has run out (bot/channels/durable.py)."""
    if rig.assistant.store.engine.dialect.name == "sqlite":
        return utcnow() - timedelta(seconds=5)
    return utcnow() - CLAIM_LEASE - timedelta(seconds=5)


def _abandoned(rig, fake, user, status, claimed_at):
    """An event a worker claimed and then died on (kill -9): status and claim time as it left them."""
    fake.known_users.add(user)
    with rig.assistant.store.session() as session, session.begin():
        event = ChannelEvent(
            channel="zalo", sender=user, event_id=f"{user}-old", status=status, attempts=1,
            payload=fake.event(user, text="xin chào", msg_id=f"{user}-old"),
            received_at=claimed_at, processed_at=claimed_at,
        )
        session.add(event)
        session.flush()
        return event.id


async def test_an_event_abandoned_before_its_turn_ran_is_answered_at_the_next_start(rig, fake, user):
    _abandoned(rig, fake, user, "processing", _dead_claim_time(rig))
    await rig.start()
    await rig.settle()
    [event] = events_of(rig, user)
    assert event.status == "done" and said_in(rig, user) == ["xin chào"]
    assert fake.messages_to(user) and "text" not in event.payload["message"]


async def test_an_event_abandoned_after_its_turn_ran_sends_the_stored_reply_and_does_not_run_it_twice(
    rig, fake, user
):
    _abandoned(rig, fake, user, "processing", _dead_claim_time(rig))
    turn = await rig.assistant.handle("zalo", user, "xin chào")  # the turn ran, then the process died
    await rig.start()
    await rig.settle()
    [event] = events_of(rig, user)
    assert event.status == "done" and said_in(rig, user) == ["xin chào"]  # not run a second time
    assert [m["text"] for m in fake.messages_to(user)] == [r.text for r in turn.replies]


async def test_parts_left_unsent_by_a_dead_worker_are_sent_once_each_at_the_next_start(rig, fake, user):
    from bot.storage.models import OutboxPart

    row_id = _abandoned(rig, fake, user, "sending", _dead_claim_time(rig))
    with rig.assistant.store.session() as session, session.begin():
        for seq, status in enumerate(["sent", "sending", "pending"]):
            session.add(OutboxPart(channel="zalo", event_row_id=row_id, recipient=user, seq=seq,
                                   message={"text": f"phần {seq + 1}"}, status=status, attempts=int(status != "pending")))
    await rig.start()
    await rig.settle()
    assert [m["text"] for m in fake.messages_to(user)] == ["phần 2", "phần 3"]  # the first had gone already
    [event] = events_of(rig, user)
    assert event.status == "done"
    await rig.restart()
    await rig.settle()
    assert len(fake.messages_to(user)) == 2


async def test_a_msg_id_reused_by_another_sender_is_a_new_message(rig, fake, user):
    await rig.start()
    assert await fake.user_sends_text(user, "xin chào", msg_id="same-id") == 200
    assert await fake.user_sends_text(f"{user}-b", "xin chào", msg_id="same-id") == 200
    await rig.settle()
    assert said_in(rig, user) == ["xin chào"] and said_in(rig, f"{user}-b") == ["xin chào"]


@pytest.mark.parametrize("sender", ["9" * 5000, "line\nbreak", "nul\x00", ""])
async def test_a_sender_id_that_is_too_long_or_not_plain_is_refused(rig, fake, sender):
    await rig.start()
    status = await fake.deliver(fake.event(sender, text="xin chào"))
    assert status == (400 if sender else 200)
    with rig.assistant.store.session() as session:  # (PostgreSQL cannot even be asked about a NUL: list them)
        assert sender not in session.execute(select(User.external_id).where(User.channel == "zalo")).scalars().all()


async def test_deeply_nested_json_is_a_400_naming_the_body_before_the_signature_is_checked(rig, fake):
    await rig.start()
    body = b"[" * 5000 + b"]" * 5000
    assert await fake.deliver({}, signature="mac=00", body=body) == 400


@pytest.mark.parametrize("kind, attachment", [
    ("user_send_image", {"type": "image", "payload": {"url": "https://example.vn/a.jpg", "thumbnail": "https://example.vn/t.jpg"}}),
    ("user_send_sticker", {"type": "sticker", "payload": {"id": "3", "url": "https://example.vn/s.png"}}),
    ("user_send_audio", {"type": "audio", "payload": {"url": "https://example.vn/v.aac"}}),
    ("user_send_file", {"type": "file", "payload": {"url": "https://example.vn/f.pdf", "name": "f.pdf", "size": "1"}}),
    ("user_send_location", {"type": "location", "payload": {"coordinates": {"latitude": "21.0", "longitude": "105.8"}}}),
])
async def test_photos_stickers_voice_files_and_places_get_a_short_polite_reply(rig, fake, user, kind, attachment):
    await rig.start()
    assert await fake.deliver(fake.event(user, kind, attachments=[attachment])) == 200
    await rig.settle()
    expected = rig.assistant.engine.responses.render("zalo_not_text")[0]
    [reply] = fake.messages_to(user)
    assert reply["text"] == expected.text
    assert [b["payload"] for b in buttons_of(reply)] == [b.title for b in expected.buttons]
    [event] = events_of(rig, user)
    assert event.status == "done" and "attachments" not in event.payload["message"]


async def test_events_that_are_not_user_messages_are_acknowledged_and_ignored(rig, fake, user):
    await rig.start()
    follow = {**fake.event(user), "event_name": "follow", "follower": {"id": user}}
    seen = fake.event(user, "user_seen_message")
    assert [await fake.deliver(follow), await fake.deliver(seen)] == [200, 200]
    await rig.settle()
    assert events_of(rig, user) == [] and fake.sent == []


# --- out: tokens ----------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_and_the_rotated_pair_survives_a_restart(rig, fake, user):
    await rig.start()
    fake.expire_access_tokens()
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert [c.error for c in fake.calls_for(user)][:2] == [-220, 0]
    assert len(fake.refreshes) == 1 and fake.violations == []
    state = stored_tokens(rig)
    assert state["refresh_token"] == fake.current_refresh_token != fake.initial_refresh_token
    assert state["access_token"] != fake.initial_access_token and state["access_token_expires_at"]

    await rig.restart()  # the settings still hold the spent refresh token: the stored one must be used
    fake.expire_access_tokens()
    await fake.user_sends_text(user, "cảm ơn")
    await rig.settle()
    assert [r["refresh_token"] for r in fake.refreshes] == [fake.initial_refresh_token, state["refresh_token"]]
    assert fake.calls_for(user)[-1].error == 0 and [e.status for e in events_of(rig, user)] == ["done", "done"]


async def test_an_invalid_token_is_refreshed_and_the_message_sent_again(rig, fake, user):
    await rig.start()
    fake.fail_next(-216)
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    calls = fake.calls_for(user)
    assert [c.error for c in calls][:2] == [-216, 0] and calls[1].access_token != calls[0].access_token
    assert len(fake.refreshes) == 1 and [e.status for e in events_of(rig, user)] == ["done"]


async def test_a_token_refused_again_after_the_refresh_fails_the_event_without_looping(rig, fake, user):
    await rig.start()
    fake.fail_next(-216, times=10)
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert [c.error for c in fake.calls_for(user)] == [-216, -216] and len(fake.refreshes) == 1
    [event] = events_of(rig, user)
    assert event.status == "failed" and "-216" in event.error


async def test_a_refused_refresh_token_fails_the_event_with_a_clear_log(rig, fake, user, caplog):
    await rig.start()
    fake.spend_refresh_token()
    fake.expire_access_tokens()
    with caplog.at_level(logging.ERROR, logger="bot.channels.zalo"):
        await fake.user_sends_text(user, "xin chào")
        await rig.settle()
    assert len(fake.refreshes) == 1 and [c.error for c in fake.calls_for(user)] == [-220]  # one try, no loop
    [event] = events_of(rig, user)
    assert event.status == "failed" and "refresh token" in event.error.lower()
    assert "ZALO_REFRESH_TOKEN" in caplog.text


def stored_tokens(rig: ZaloRig) -> dict[str, str]:
    with rig.assistant.store.session() as session:
        rows = session.execute(select(ChannelState.key, ChannelState.value).where(ChannelState.channel == "zalo"))
        return dict(rows.all())


# --- out: error codes -----------------------------------------------------------------------


async def test_a_rate_limit_is_waited_out_then_the_message_goes(rig, fake, user):
    await rig.start(backoff=(0.05, 0.05, 0.05))
    fake.fail_next(-32, times=2)
    started = time.monotonic()
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert [c.error for c in fake.calls_for(user)][:3] == [-32, -32, 0]
    assert time.monotonic() - started >= 0.1
    assert [e.status for e in events_of(rig, user)] == ["done"]


async def test_a_rate_limit_that_does_not_lift_fails_the_event_after_a_bounded_number_of_rounds(rig, fake, user):
    await rig.start(backoff=(0.01, 0.01, 0.01))
    fake.fail_next(-32, times=50)
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert [c.error for c in fake.calls_for(user)] == [-32] * 4
    assert [e.status for e in events_of(rig, user)] == ["outbox"]  # kept for a later round, not lost
    for _ in range(2):  # the sweeper's next rounds
        rig.channel.sweep()
        await rig.settle()
    assert [c.error for c in fake.calls_for(user)] == [-32] * 12
    [event] = events_of(rig, user)
    assert event.status == "failed" and "-32" in event.error


async def test_a_rate_limit_that_lifts_between_rounds_delivers_everything_once(rig, fake, user):
    await rig.start(backoff=(0.01, 0.01, 0.01))
    fake.fail_next(-32, times=4)
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert fake.messages_to(user) == []
    rig.channel.sweep()
    await rig.settle()
    [event] = events_of(rig, user)
    texts = [m["text"] for m in fake.messages_to(user)]
    assert event.status == "done" and texts and len(texts) == len(set(texts))


async def test_zalo_being_down_for_a_moment_is_waited_out_like_a_rate_limit(rig, fake, user):
    await rig.start(backoff=(0.02, 0.02, 0.02))
    fake.go_down(times=2)
    await fake.user_sends_text(user, "cảm ơn")
    await rig.settle()
    assert [c.error for c in fake.calls][:3] == [503, 503, 0]
    assert [e.status for e in events_of(rig, user)] == ["done"]


@pytest.mark.parametrize("code", [-230, -232])
async def test_a_user_outside_zalos_window_is_marked_unreachable_and_never_retried(rig, fake, user, code):
    await rig.start()
    fake.make_unreachable(user, code)
    await fake.user_sends_text(user, "xin chào")
    await rig.settle()
    assert [c.error for c in fake.calls_for(user)] == [code]
    [event] = events_of(rig, user)
    assert event.status == "failed" and str(code) in event.error
    row = user_row(rig, user)
    assert row.unreachable_at is not None and str(code) in row.unreachable_reason

    fake.make_reachable(user)
    await fake.user_sends_text(user, "cảm ơn")  # writing again opens the window
    await rig.settle()
    assert fake.calls_for(user)[-1].error == 0 and user_row(rig, user).unreachable_at is None


async def test_other_errors_fail_the_event_and_are_logged_with_personal_data_masked(rig, fake, user, caplog):
    await rig.start()
    fake.fail_next(-124, message="Message rejected for recipient phone 0912345678")
    with caplog.at_level(logging.ERROR, logger="bot.channels.zalo"):
        await fake.user_sends_text(user, "cảm ơn")
        await rig.settle()
    [event] = events_of(rig, user)
    assert event.status == "failed" and "-124" in event.error and "0912345678" not in event.error
    assert "-124" in caplog.text and user in caplog.text and "0912345678" not in caplog.text
    assert len(fake.calls_for(user)) == 1


# --- out: rendering -------------------------------------------------------------------------

SENTENCES = [
    "Người dân nộp hồ sơ tại bộ phận một cửa cấp xã hoặc qua Cổng Dịch vụ công quốc gia.",
    "Cán bộ kiểm tra giấy tờ và hẹn ngày trả kết quả.",
    "Nếu hồ sơ thiếu, cán bộ hướng dẫn bổ sung một lần, rõ ràng, bằng văn bản!",
    "Bạn có thể tra cứu tình trạng hồ sơ bằng mã hồ sơ in trên giấy hẹn?",
]


async def test_a_long_answer_arrives_in_parts_under_2000_characters_cut_at_sentences(rig, fake, user):
    await rig.start()
    fake.known_users.add(user)
    text = " ".join(SENTENCES[i % len(SENTENCES)] for i in range(70))
    assert len(text) > 2 * MAX_TEXT
    await rig.channel.api.send_all(user, render(Reply(text=text), "Thêm"))
    parts = [m["text"] for m in fake.messages_to(user)]
    assert len(parts) == 3 and fake.violations == []
    assert all(len(p) <= MAX_TEXT and p[-1] in ".!?" for p in parts)
    assert " ".join(parts) == text


@pytest.mark.parametrize("text, limit, expected", [
    ("Một. Hai. Ba.", 100, ["Một. Hai. Ba."]),
    ("dòng một\ndòng hai dài hơn", 12, ["dòng một", "dòng hai dài", "hơn"]),
    ("Câu một đây. Câu hai đây.", 14, ["Câu một đây.", "Câu hai đây."]),
    ("a" * 25, 10, ["a" * 10, "a" * 10, "a" * 5]),
    ("đoạn một\n\nđoạn hai", 15, ["đoạn một", "đoạn hai"]),
    ("   ", 10, []),
])
def test_split_text_cuts_at_the_best_boundary_within_the_limit(text, limit, expected):
    parts = split_text(text, limit)
    assert parts == expected and all(len(p) <= limit for p in parts)


async def test_more_than_five_choices_and_links_go_out_as_several_valid_button_templates(rig, fake, user):
    await rig.start()
    fake.known_users.add(user)
    more = rig.assistant.engine.responses.text("zalo_more_choices")
    buttons = tuple(Button(f"Lựa chọn {n}", f'/ask_fee{{"procedure":"1.00{n}"}}') for n in range(6))
    long_title = Button("Rất dài " * 20, "/help")
    links = (Link("Cổng DVC", "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193"),
             Link("Biểu mẫu", "https://dichvucong.gov.vn/bieu-mau.docx"))
    checklist = (ChecklistItem("Giấy chứng sinh", done=True), ChecklistItem("Căn cước của cha hoặc mẹ"))
    reply = Reply(text="Bạn chọn một mục:", buttons=(*buttons, long_title), links=links, checklist=checklist)
    await rig.channel.api.send_all(user, render(reply, more))
    first, second = fake.messages_to(user)
    assert fake.violations == []
    assert first["text"] == "Bạn chọn một mục:\n☑ Giấy chứng sinh\n☐ Căn cước của cha hoặc mẹ"
    assert [b["payload"] for b in buttons_of(first)] == [b.title for b in buttons[:5]]  # shown in the chat as sent
    assert second["text"] == more
    kinds = [b["type"] for b in buttons_of(second)]
    assert kinds == ["oa.query.show", "oa.query.show", "oa.open.url", "oa.open.url"]
    assert buttons_of(second)[1]["payload"] == long_title.title and len(buttons_of(second)[1]["title"]) <= 100
    assert [b["payload"]["url"] for b in buttons_of(second)[2:]] == [link.url for link in links]


async def test_a_procedure_answer_carries_its_source_as_a_link_button(rig, fake, user):
    await rig.start()
    await fake.user_sends_text(user, '/ask_fee{"procedure":"1.001193"}')
    await rig.settle()
    urls = [b["payload"]["url"] for m in fake.messages_to(user) for b in buttons_of(m) if b["type"] == "oa.open.url"]
    assert any(url.startswith("https://dichvucong.gov.vn/") for url in urls) and fake.violations == []


async def test_a_part_in_flight_when_the_worker_died_that_had_arrived_is_not_sent_again(rig, fake, user):
    from bot.storage.models import OutboxPart
    from tests.channels.fake_zalo import SentMessage

    row_id = _abandoned(rig, fake, user, "sending", _dead_claim_time(rig))
    with rig.assistant.store.session() as session, session.begin():
        for seq, status in enumerate(["sending", "pending"]):
            session.add(OutboxPart(channel="zalo", event_row_id=row_id, recipient=user, seq=seq, created_at=utcnow(),
                                   message={"text": f"phần {seq + 1}"}, status=status, attempts=int(status != "pending")))
    fake.sent.append(SentMessage(user, {"text": "phần 1"}, "zalo-msg-1", int(time.time() * 1000)))  # it had arrived
    await rig.start()
    await rig.settle()
    assert [m["text"] for m in fake.messages_to(user)] == ["phần 1", "phần 2"] and fake.conversation_reads == 1
    assert [e.status for e in events_of(rig, user)] == ["done"]
