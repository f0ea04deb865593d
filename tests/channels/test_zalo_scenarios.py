"""Every conversation scenario under tests/conversations/ through Zalo: signed webhooks in, Open API out.

What a scenario checks about the replies (says, buttons, links, checklist) is read from the
messages the fake Zalo server accepted, not from the Assistant; what was understood (intent,
flows, slots) is read from the turn the Assistant answered, which Zalo never sees.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.cli import turn_json
from bot.settings import Settings
from tests.channels.fake_zalo import FakeZalo, ZaloRig
from tests.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios()
CHECKBOXES = {"☐": False, "☑": True}


def reply_from_zalo(message: dict[str, Any]) -> dict[str, Any]:
    """A Zalo message read back as a channel-neutral reply: text, choices, links, checklist lines."""
    buttons = message.get("attachment", {}).get("payload", {}).get("buttons", [])
    text = message["text"]
    return {
        "text": text,
        "buttons": [{"title": b["title"], "payload": b["payload"]} for b in buttons if b["type"] == "oa.query.show"],
        "links": [{"title": b["title"], "url": b["payload"]["url"]} for b in buttons if b["type"] == "oa.open.url"],
        "checklist": [{"text": line[1:].strip(), "done": CHECKBOXES[line[0]]}
                      for line in text.splitlines() if line[:1] in CHECKBOXES],
    }


class ZaloDriver:
    """Runs scenario turns as Zalo users: each message a signed webhook, each reply what Zalo was asked to send."""

    def __init__(self, rig: ZaloRig, fake: FakeZalo):
        self.rig = rig
        self.fake = fake
        self.offset = timedelta()
        self.turns: dict[str, Any] = {}

    async def start(self) -> None:
        await self.rig.start()
        self._instrument()

    def _instrument(self) -> None:
        from bot.storage.models import utcnow

        assistant = self.rig.assistant
        assistant.clock = lambda: utcnow() + self.offset
        handle = type(assistant).handle.__get__(assistant)

        async def recording_handle(channel: str, user_id: str, text: str):
            turn = await handle(channel, user_id, text)
            self.turns[user_id] = turn
            return turn

        assistant.handle = recording_handle

    async def send(self, user: str, text: str) -> dict[str, Any]:
        before = len(self.fake.messages_to(user))
        self.turns.pop(user, None)
        assert await self.fake.user_sends_text(user, text) == 200
        await self.rig.settle()
        assert self.fake.violations == [], self.fake.violations
        assert user in self.turns, f"the Zalo channel did not run a turn for {text!r}"
        turn = self.turns[user]
        replies = [reply_from_zalo(m) for m in self.fake.messages_to(user)[before:]]
        delivered = "\n".join(r["text"] for r in replies)
        for reply in turn.replies:  # nothing the Assistant said is lost on the way to Zalo
            assert " ".join(reply.text.split()) in " ".join(delivered.split()), reply.text
        assert [b.title for b in turn.buttons] == [b["payload"] for r in replies for b in r["buttons"]]
        assert [lk.url for r in turn.replies for lk in r.links] == [lk["url"] for r in replies for lk in r["links"]]
        body = turn_json(turn)
        body["replies"] = replies
        body["buttons"] = [b for r in replies for b in r["buttons"]]
        return body

    async def advance(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)

    async def restart(self) -> None:
        await self.rig.restart()
        self._instrument()


@pytest.fixture(scope="module")
def scenario_settings(new_database) -> Settings:
    return Settings.load(environ={"DATABASE_URL": new_database("zalo-scenarios")}, env_file=None)


@pytest.fixture(scope="module")
def scenario_assistant(scenario_settings, nlu_model):
    from bot.runtime import build_assistant

    return build_assistant(scenario_settings, nlu=nlu_model)


@pytest.fixture
async def driver(scenario_settings, nlu_model, scenario_assistant):
    fake = await FakeZalo().start()
    rig = ZaloRig(fake, scenario_settings, nlu_model, scenario_assistant)
    driver = ZaloDriver(rig, fake)
    await driver.start()
    yield driver
    await rig.stop()
    await fake.close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_conversation_through_zalo(scenario, driver, user):
    await run_scenario(scenario, driver, user)
