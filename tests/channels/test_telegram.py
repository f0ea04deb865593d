"""The Telegram channel over real HTTP: python-telegram-bot against the local fake Bot API, long polling.

One fake server and one running bot serve the whole module; each test talks in its own chat.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import re
import unicodedata

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from sqlalchemy import delete, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram import COMMANDS, KEY_PREFIX, MAX_CALLBACK_DATA, ButtonPayloads, attach, split_text, utf16_len
from bot.privacy import MaskingFilter
from bot.storage.models import ChannelState, User
from flows.replies import Button, ChecklistItem, Link, Reply
from tests.channels.fake_telegram import FakeTelegram, RecordingAssistant, running_bot, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

_chats = itertools.count(610_000_001)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake():
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture(scope="module")
def recording(assistant):
    return RecordingAssistant(assistant)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(recording, settings, fake):
    async with running_bot(recording, settings, fake) as running:
        yield running


@pytest.fixture
def chat() -> int:
    """A fresh private chat (the Telegram user id is the chat id)."""
    return next(_chats)


@pytest.fixture
def responses(assistant):
    return assistant.engine.responses


@pytest.fixture(autouse=True)
def the_bot_never_makes_a_request_telegram_would_refuse(fake):
    before = len(fake.rejected)
    yield
    refused = [(c.method, c.description) for c in fake.rejected[before:]]
    assert not refused, f"the fake Bot API refused: {refused}"


async def say(bot, fake, chat, text):
    """The user types `text`; answers the bot's messages to that chat once the update is handled."""
    before = len(fake.messages_to(chat))
    await bot.tracker.wait(fake.message(chat, text))
    return fake.messages_to(chat)[before:]


async def press(bot, fake, message, title_part):
    """The user taps the button whose title contains `title_part` under `message`."""
    before = len(fake.messages_to(message.chat_id))
    await bot.tracker.wait(fake.press(message.chat_id, message.message_id, message.button(title_part)["callback_data"]))
    return fake.messages_to(message.chat_id)[before:]


def user_row(assistant, chat):
    with assistant.store.session() as session:
        return session.execute(select(User).where(User.channel == "telegram", User.external_id == str(chat))).scalar_one_or_none()


# ------------------------------------------------------------------ commands and the menu


async def test_start_shows_the_main_menu_as_an_inline_keyboard(bot, fake, chat, responses):
    messages = await say(bot, fake, chat, "/start")
    menu = responses.render("main_menu")[0]
    assert [m.text for m in messages] == [menu.text]
    assert [(b["text"], b["callback_data"]) for b in messages[0].callback_buttons] == [(b.title, b.payload) for b in menu.buttons]
    assert [row for row in messages[0].inline_keyboard if len(row) > 1], "short titles share a row"


async def test_the_command_list_is_set_from_the_wording_file(bot, fake, responses):
    assert [c["command"] for c in fake.commands] == list(COMMANDS)
    assert [c["description"] for c in fake.commands] == [responses.text(f"telegram_command_{c}") for c in COMMANDS]


async def test_help_shows_the_menu_and_huy_stops_what_was_going_on(bot, fake, chat, responses):
    assert [m.text for m in await say(bot, fake, chat, "/help")] == [responses.render("main_menu")[0].text]
    asked = await say(bot, fake, chat, "lệ phí bao nhiêu vậy")
    assert "thủ tục nào" in asked[-1].text
    assert [m.text for m in await say(bot, fake, chat, "/huy")] == [responses.render("cancelled")[0].text]
    assert [m.text for m in await say(bot, fake, chat, "/huy")] == [responses.render("nothing_to_cancel")[0].text]


async def test_xoadulieu_is_handed_to_the_assistant(bot, fake, chat, recording):
    messages = await say(bot, fake, chat, "/xoadulieu")
    assert recording.texts[str(chat)] == ["/xoadulieu"]
    assert messages and recording.turns[str(chat)].replies[0].text == messages[0].text


# ------------------------------------------------------------------ questions and buttons


async def test_a_question_without_diacritics_is_answered_with_its_source_as_a_url_button(bot, fake, chat):
    messages = await say(bot, fake, chat, "lam giay khai sinh can giay to gi")
    text = "\n".join(m.text for m in messages)
    assert "Giấy tờ cần nộp" in text and "1.001193" in text
    urls = [b["url"] for m in messages for b in m.url_buttons]
    assert any(url.startswith("https://dichvucong.gov.vn/") for url in urls)
    assert any("Lệ phí" in b["text"] for m in messages for b in m.callback_buttons)
    sends = fake.calls_of("sendMessage", chat)
    assert all('"is_disabled": true' in c.params["link_preview_options"].replace(":true", ": true") for c in sends)
    assert all("parse_mode" not in c.params for c in sends), "plain text: nothing to escape, nothing to break"


async def test_pressing_a_button_answers_the_press_runs_its_payload_and_keeps_the_choice_visible(bot, fake, chat):
    answer = await say(bot, fake, chat, "lam giay khai sinh can giay to gi")
    with_buttons = next(m for m in answer if m.callback_buttons)
    links_before = with_buttons.url_buttons
    fee = await press(bot, fake, with_buttons, "Lệ phí")

    query = fake.last_query_id()
    answered_at = fake.query_answered(query)
    assert answered_at is not None and answered_at <= fee[0].at, "the spinner stops before the answer comes"
    assert "Lệ phí" in fee[0].text and "Miễn phí" in "\n".join(m.text for m in fee)
    assert [b["text"] for b in with_buttons.callback_buttons] == ["✅ 💰 Lệ phí"]
    assert with_buttons.url_buttons == links_before, "the source link stays under the answer"


async def test_a_button_whose_payload_is_over_64_bytes_travels_as_a_stored_key(bot, fake, chat, recording, assistant):
    await say(bot, fake, chat, "xin chào")
    payload = '/ask_fee{"procedure":"1.001193","nguon":"danh sách thủ tục hay gặp ở bộ phận một cửa"}'
    assert len(payload.encode()) > MAX_CALLBACK_DATA
    before = len(fake.messages_to(chat))
    await bot.channel.send_replies(chat, [Reply("Chọn thủ tục:", buttons=(Button("Khai sinh", payload),))])
    offer = fake.messages_to(chat)[before]
    key = offer.callback_buttons[0]["callback_data"]
    assert key.startswith(KEY_PREFIX) and len(key.encode()) <= MAX_CALLBACK_DATA

    fee = await press(bot, fake, offer, "Khai sinh")
    assert recording.texts[str(chat)][-1] == payload
    assert "Miễn phí" in "\n".join(m.text for m in fee)
    # After a restart the in-memory cache is empty; the key still resolves from the database.
    assert ButtonPayloads(assistant.store).payload_for(key) == payload


async def test_an_old_button_whose_key_is_unknown_gets_a_polite_way_forward(bot, fake, chat, responses, assistant):
    await say(bot, fake, chat, "xin chào")
    key = ButtonPayloads(assistant.store).data_for("/ask_fee{" + '"x":"' + "y" * 80 + '"}')
    with assistant.store.session() as session, session.begin():  # the table was emptied since the button was sent
        session.execute(delete(ChannelState).where(ChannelState.key == "button:" + key[1:]))
    bot.channel.payloads._cache.clear()
    old = await bot.channel.application.bot.send_message(
        chat, "Tin nhắn cũ", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Lệ phí", callback_data=key)]])
    )
    message = next(m for m in fake.messages_to(chat) if m.message_id == old.message_id)
    replies = await press(bot, fake, message, "Lệ phí")
    assert fake.query_answered(fake.last_query_id()) is not None
    assert [m.text for m in replies] == [responses.render("telegram_button_expired")[0].text]


# ------------------------------------------------------------------ rendering


async def test_a_long_reply_is_split_at_sentence_ends_with_the_buttons_under_the_last_part(bot, fake, chat):
    await say(bot, fake, chat, "xin chào")
    sentence = "Người dân nộp tờ khai tại bộ phận một cửa và nhận giấy hẹn trả kết quả 📄. "
    text = "\n".join(sentence * 9 for _ in range(16))  # about 11,000 characters in 16 long lines
    before = len(fake.messages_to(chat))
    await bot.channel.send_replies(chat, [Reply(text, buttons=(Button("Về menu chính", "/help"),))])
    parts = fake.messages_to(chat)[before:]

    assert len(parts) == 3
    assert all(utf16_len(p.text) <= 4096 for p in parts)
    assert all(p.text.endswith(("📄.", "\n")) or p.text.endswith(".") for p in parts)
    assert [bool(p.callback_buttons) for p in parts] == [False, False, True]
    assert " ".join(" ".join(p.text for p in parts).split()) == " ".join(text.split()), "nothing lost or repeated"


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("Một câu ngắn.", 4096, ["Một câu ngắn."]),
        ("Dòng một.\nDòng hai.\nDòng ba.", 20, ["Dòng một.\nDòng hai.", "Dòng ba."]),
        ("Câu một. Câu hai dài hơn. Câu ba.", 26, ["Câu một. Câu hai dài hơn.", "Câu ba."]),
        ("đoạn một\n\nđoạn hai rất dài", 20, ["đoạn một", "đoạn hai rất dài"]),
        ("a" * 10, 4, ["aaaa", "aaaa", "aa"]),  # no boundary at all: a hard cut
        ("😀" * 5, 4, ["😀😀", "😀😀", "😀"]),  # an emoji counts two units, as Telegram counts
        ("   ", 4096, []),
    ],
)
def test_split_text(text, limit, expected):
    assert split_text(text, limit) == expected


def test_split_text_never_separates_a_letter_from_its_diacritic():
    decomposed = unicodedata.normalize("NFD", "Việt" * 3)  # combining marks, as some keyboards type them
    parts = split_text(decomposed, 5)
    assert all(not unicodedata.combining(p[0]) for p in parts)
    assert "".join(parts) == decomposed


async def test_a_checklist_becomes_ticked_lines_and_links_become_url_buttons(bot, fake, chat):
    await say(bot, fake, chat, "xin chào")
    reply = Reply(
        "Giấy tờ cần chuẩn bị:",
        checklist=(ChecklistItem("Tờ khai đăng ký khai sinh"), ChecklistItem("Giấy chứng sinh", done=True)),
        links=(Link("Cổng Dịch vụ công", "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"), Link("Tổng đài", "tel:1900")),
    )
    before = len(fake.messages_to(chat))
    await bot.channel.send_replies(chat, [reply])
    [message] = fake.messages_to(chat)[before:]
    assert message.text.splitlines()[-4:] == ["☐ Tờ khai đăng ký khai sinh", "☑ Giấy chứng sinh", "", "Tổng đài: tel:1900"]
    assert [(b["text"], b["url"]) for b in message.url_buttons] == [("Cổng Dịch vụ công", reply.links[0].url)]


# ------------------------------------------------------------------ what is not text


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "document", "location", "contact"])
async def test_photos_stickers_voice_files_locations_and_contacts_get_a_polite_reply(bot, fake, chat, kind, responses, recording):
    before = len(fake.messages_to(chat))
    await bot.tracker.wait(getattr(fake, kind)(chat))
    [message] = fake.messages_to(chat)[before:]
    expected = responses.render("telegram_not_text")[0]
    assert message.text == expected.text
    assert [b["text"] for b in message.callback_buttons] == [b.title for b in expected.buttons]
    assert str(chat) not in recording.texts, "nothing to understand: the Assistant is not asked"


async def test_a_photo_with_a_caption_gets_the_same_polite_reply(bot, fake, chat, responses):
    before = len(fake.messages_to(chat))
    await bot.tracker.wait(fake.photo(chat, caption="giấy này làm ở đâu"))
    assert [m.text for m in fake.messages_to(chat)[before:]] == [responses.render("telegram_not_text")[0].text]


# ------------------------------------------------------------------ rate limits and blocked bots


async def test_retry_after_is_honoured(bot, fake, chat):
    await say(bot, fake, chat, "xin chào")
    fake.fail_next("sendMessage", 429, retry_after=1, chat_id=chat)
    messages = await say(bot, fake, chat, "cảm ơn")
    assert len(messages) == 1
    limited, delivered = fake.calls_of("sendMessage", chat)[-2:]
    assert (limited.status, delivered.status) == (429, 200)
    assert delivered.at - limited.at >= 1.0


async def test_one_chat_is_throttled_without_holding_back_another(bot, fake, chat):
    other = next(_chats)
    await say(bot, fake, chat, "xin chào")
    await say(bot, fake, other, "xin chào")
    before = len(fake.messages_to(chat))
    burst = asyncio.ensure_future(bot.channel.send_replies(chat, [Reply(f"Tin số {n}.") for n in range(1, 7)]))
    await asyncio.sleep(0.05)
    quick = await say(bot, fake, other, "cảm ơn")
    await burst
    sent = fake.messages_to(chat)[before:]
    assert [m.text for m in sent] == [f"Tin số {n}." for n in range(1, 7)]
    assert sent[-1].at - sent[0].at >= 0.8, "after a burst of 5, about one message a second"
    assert quick[0].at < sent[-1].at, "the other chat did not wait for this one"


async def test_a_blocked_bot_is_recorded_not_retried_and_cleared_when_the_person_writes_again(bot, fake, chat, assistant):
    await say(bot, fake, chat, "xin chào")
    fake.block(chat, notify=False)  # blocked right after writing: Telegram refuses the answer
    before = len(fake.calls_of("sendMessage", chat))
    await bot.tracker.wait(fake.message(chat, "lam giay khai sinh can giay to gi"))
    attempts = fake.calls_of("sendMessage", chat)[before:]
    assert [c.status for c in attempts] == [403], "one try; the rest of the turn is not sent"
    row = user_row(assistant, chat)
    assert row.unreachable_at is not None and "blocked" in row.unreachable_reason

    fake.unblock(chat)
    await wait_until(lambda: user_row(assistant, chat).unreachable_at is None, what="the unblock to be recorded")
    fake.block(chat, notify=False)
    await bot.tracker.wait(fake.message(chat, "xin chào"))
    assert user_row(assistant, chat).unreachable_at is not None
    fake._blocked.discard(chat)  # unblocked without telling the bot; writing again is enough
    assert await say(bot, fake, chat, "xin chào")
    assert user_row(assistant, chat).unreachable_at is None


async def test_blocking_reported_by_telegram_is_recorded(bot, fake, chat, assistant):
    await say(bot, fake, chat, "xin chào")
    await bot.tracker.wait(fake.block(chat))
    row = user_row(assistant, chat)
    assert row.unreachable_at is not None and row.unreachable_reason == "blocked the bot"
    await bot.tracker.wait(fake.unblock(chat))
    assert user_row(assistant, chat).unreachable_at is None


# ------------------------------------------------------------------ privacy and start-up


async def test_personal_data_is_masked_in_the_logs(bot, fake, chat):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    loggers = [logging.getLogger(name) for name in ("bot", "telegram")]  # httpx stays as attach() set it
    levels = [lg.level for lg in loggers]
    logging.getLogger().addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        await say(bot, fake, chat, "sdt cua toi la 0912345678, cccd 001099012345, ho so 000.00.19.H12-230815-0001")
        await bot.tracker.wait(fake.contact(chat, "0987654321"))
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    logged = out.getvalue()
    assert "[sđt" in logged, "the message was logged (masked)"
    for secret in ("0912345678", "001099012345", "230815-0001", "0987654321", fake.token):
        assert secret not in logged


async def test_a_refused_token_leaves_the_channel_off_with_a_clear_log_and_the_web_chat_up(assistant, settings, fake, caplog):
    import dataclasses

    from aiohttp import web

    from bot.channels.telegram import TELEGRAM
    from bot.web import create_app

    app = create_app(assistant)
    revoked = dataclasses.replace(settings, telegram_bot_token="7000000001:revoked", telegram_api_base_url=fake.base_url)
    attach(app, assistant, revoked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        channel = app[TELEGRAM]
        await asyncio.wait_for(channel._starter, 10)
        assert not channel.started.is_set()
        assert "TELEGRAM_BOT_TOKEN" in caplog.text
        port = site._server.sockets[0].getsockname()[1]
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    finally:
        await runner.cleanup()
    assert not re.search("revoked", caplog.text)
