"""The Telegram channel in webhook mode: the fake Bot API posts updates to the app's route with the secret."""

from __future__ import annotations

import dataclasses
import itertools
import socket
import time

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web

from bot.channels.telegram import ALLOWED_UPDATES, SECRET_HEADER, WEBHOOK_PATH, attach
from bot.settings import SettingsError
from bot.web import create_app
from tests.channels.fake_telegram import FakeTelegram, RecordingAssistant, running_bot, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "s3cret_Token-for-the-webhook"
_chats = itertools.count(620_000_001)


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
    async with running_bot(recording, settings, fake, webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
def chat() -> int:
    return next(_chats)


@pytest.fixture(autouse=True)
def the_bot_never_makes_a_request_telegram_would_refuse(fake):
    before = len(fake.rejected)
    yield
    assert not [(c.method, c.description) for c in fake.rejected[before:]]


def forged_update(update_id: int, chat: int, text: str) -> dict:
    person = {"id": chat, "is_bot": False, "first_name": "Kẻ giả"}
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"}, "from": person, "text": text,
    }}


async def post(url: str, body: object, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with ClientSession() as http:
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        async with http.post(url + WEBHOOK_PATH, headers=headers, **kwargs) as response:
            return response.status


async def test_the_webhook_is_set_with_its_secret_and_polling_never_starts(bot, fake):
    assert fake.webhook == {"url": bot.url + WEBHOOK_PATH, "secret_token": SECRET}
    assert fake.allowed_updates == set(ALLOWED_UPDATES)
    assert not fake.calls_of("getUpdates") and not fake.calls_of("deleteWebhook")


async def test_an_update_posted_with_the_right_secret_is_answered(bot, fake, chat, assistant):
    update_id = fake.message(chat, "/start")
    await bot.tracker.wait(update_id)
    assert (update_id, 200) in fake.deliveries
    [menu] = fake.messages_to(chat)
    assert menu.text == assistant.engine.responses.render("main_menu")[0].text and menu.callback_buttons
    pressed = fake.press(chat, menu.message_id, menu.button("Hỏi về một thủ tục")["callback_data"])
    await bot.tracker.wait(pressed)
    assert "ví dụ" in fake.messages_to(chat)[-1].text


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_post_without_the_right_secret_is_refused_and_not_handled(bot, fake, chat, recording, secret):
    forged = 900_000_000 + chat
    assert await post(bot.url, forged_update(forged, chat, "xin chào"), secret) == 403
    # The person's own next message is handled; had the forged one been taken, it would have come first.
    await bot.tracker.wait(fake.message(chat, "cảm ơn"))
    assert forged not in bot.tracker.done
    assert recording.texts[str(chat)] == ["cảm ơn"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"message": {}}'])
async def test_a_body_that_is_not_an_update_is_refused_with_400(bot, body):
    assert await post(bot.url, body, SECRET) == 400


@pytest.mark.parametrize(
    "body", ["[" * 5000 + "]" * 5000, '{"update_id": 1, "x": "' + "a" * 70_000 + '"}'], ids=["nested", "over-64-kib"]
)
async def test_a_body_nested_too_deep_or_over_64_kib_is_a_400_naming_the_body(bot, body):
    async with ClientSession() as http:
        async with http.post(bot.url + WEBHOOK_PATH, headers={SECRET_HEADER: SECRET}, data=body) as response:
            assert response.status == 400 and (await response.json())["field"] == "body"


async def test_a_lone_surrogate_in_a_message_is_answered_not_lost(bot, fake, chat, recording):
    update_id = fake.message(chat, "xin ch\ud800o")  # JSON carries it as the escape \ud800
    await bot.tracker.wait(update_id)
    assert (update_id, 200) in fake.deliveries
    assert recording.texts[str(chat)] == ["xin ch\ufffdo"] and fake.messages_to(chat)


async def test_a_webhook_without_a_valid_secret_setting_stops_start_up_naming_the_variable(assistant, settings):
    for secret in ("", "has spaces", "x" * 257):
        bad = dataclasses.replace(
            settings, telegram_bot_token="1:x", telegram_webhook_url="https://bot.example.vn/webhooks/telegram",
            telegram_webhook_secret=secret,
        )
        with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
            attach(web.Application(), assistant, bad)


async def test_telegram_unreachable_at_start_is_retried_and_early_posts_are_asked_again(assistant, settings):
    """A second bot on its own fake server; getMe fails once (502), so the start waits and tries again."""
    server = FakeTelegram(token="7000000002:AAF_second-bot")
    await server.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(assistant)
    attach(app, assistant, dataclasses.replace(
        settings, telegram_bot_token=server.token, telegram_api_base_url=server.base_url,
        telegram_webhook_url=url + WEBHOOK_PATH, telegram_webhook_secret=SECRET,
    ))
    server.fail_next("getMe", 502, description="Bad Gateway")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        # Not ready yet: 503 makes Telegram post the update again later.
        assert await post(url, forged_update(1, 1, "xin chào"), SECRET) == 503
        await wait_until(lambda: server.webhook is not None, 10, "the webhook to be set after the retry")
        assert [c.status for c in server.calls_of("getMe")] == [502, 200]
    finally:
        await runner.cleanup()
        await server.close()
