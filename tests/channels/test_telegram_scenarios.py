"""Every conversation scenario under tests/conversations/, played through Telegram.

The user's turns go in as Telegram updates (typed text, or a tap on the inline button that was offered);
the replies are read back from what the bot sent to the fake Bot API: texts, inline keyboards (button
title and callback data), URL buttons (links) and ☐/☑ lines (checklist). What the chat does not show
(intent, flow, slots) comes from the Assistant's turn behind it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio

import bot.channels.telegram as telegram_channel
from tests.channels.fake_telegram import FakeTelegram, RecordingAssistant, SentMessage, running_bot
from tests.scenarios import load_scenarios, run_scenario

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCENARIOS = load_scenarios()
CHECKLIST_MARKS = ("☐ ", "☑ ")


def reply_of(message: SentMessage) -> dict[str, Any]:
    """A Telegram message read back as a channel-neutral reply."""
    return {
        "text": message.text,
        "buttons": [{"title": b["text"], "payload": b["callback_data"]} for b in message.callback_buttons],
        "links": [{"title": b["text"], "url": b["url"]} for b in message.url_buttons],
        "checklist": [line[2:] for line in message.text.splitlines() if line.startswith(CHECKLIST_MARKS)],
    }


class TelegramDriver:
    """Scenario turns as Telegram updates through the fake Bot API; a restart restarts app, bot and Assistant."""

    def __init__(self, fake: FakeTelegram, settings: Any, nlu_model: Any):
        self.fake = fake
        self.settings = settings
        self.nlu_model = nlu_model
        self.offset = timedelta()
        self.chats: dict[str, int] = {}
        self._chat_ids = itertools.count(630_000_001)
        self.offered: dict[int, dict[str, int]] = {}  # chat -> callback data on screen -> its message id

    async def start(self) -> None:
        from bot.runtime import build_assistant
        from bot.storage.models import utcnow

        inner = build_assistant(self.settings, nlu=self.nlu_model)
        inner.clock = lambda: utcnow() + self.offset
        self.assistant = RecordingAssistant(inner)
        self._running = running_bot(self.assistant, self.settings, self.fake)
        self.bot = await self._running.__aenter__()

    async def stop(self) -> None:
        await self._running.__aexit__(None, None, None)

    async def send(self, user: str, text: str) -> dict[str, Any]:
        chat = self.chats.setdefault(user, next(self._chat_ids))
        before = len(self.fake.messages_to(chat))
        self.assistant.turns.pop(str(chat), None)
        on_screen = self.offered.get(chat, {})
        if text in on_screen:  # the scenario presses a button: tap it where it is shown
            update_id = self.fake.press(chat, on_screen[text], text)
        else:
            update_id = self.fake.message(chat, text)
        await self.bot.tracker.wait(update_id)
        messages = self.fake.messages_to(chat)[before:]
        self.offered[chat] = {b["callback_data"]: m.message_id for m in messages for b in m.callback_buttons}
        replies = [reply_of(m) for m in messages]
        turn = self.assistant.turns.get(str(chat))
        return {
            "replies": replies,
            "buttons": [b for r in replies for b in r["buttons"]],
            "intent": turn.intent if turn else None,
            "confidence": round(turn.confidence, 4) if turn else 0.0,
            "flow": turn.flow if turn else None,
            "procedures": turn.procedures if turn else [],
            "started": turn.started if turn else [],
            "completed": turn.completed if turn else [],
            "slots": turn.slots if turn else {},
        }

    async def advance(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def driver(settings, nlu_model):
    # Scenarios tap through ten steps at machine speed; a person reading each step never meets the
    # one-message-a-second pace per chat (tested in test_telegram.py), so it is quickened here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(telegram_channel, "CHAT_PER_SECOND", 100.0)
        fake = FakeTelegram()
        await fake.start()
        telegram = TelegramDriver(fake, settings, nlu_model)
        await telegram.start()
        yield telegram
        await telegram.stop()
        await fake.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_conversation_on_telegram(scenario, driver, user):
    before = len(driver.fake.rejected)
    await run_scenario(scenario, driver, user)
    refused = [(c.method, c.description) for c in driver.fake.rejected[before:]]
    assert not refused, f"the fake Bot API refused: {refused}"
