"""Every scenario under tests/conversations/ through POST /api/chat over real HTTP.

The scenarios check slots, which the web page never gets: the driver is a front end with
its own API key trusted with slots (`API_KEYS=scenarios:<key>:slots`). The web page's own
session path is covered by tests/web/test_api_security.py and the browser tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, Callable

import pytest

from bot.settings import ApiKey
from bot.web import create_app
from tests.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios()
SCENARIO_KEY = "scenario-driver-key-0123456789abcdef"


class WebChatDriver:
    """Each turn is a POST to a real aiohttp server; its assistant's clock can be moved on, and the server restarted."""

    def __init__(self, assistant: Any, build_assistant: Callable[[], Any], aiohttp_client: Any, settings: Any):
        self.assistant = assistant
        self.settings = replace(settings, api_keys=(ApiKey("scenarios", SCENARIO_KEY, slots=True),))
        self.build_assistant = build_assistant
        self.aiohttp_client = aiohttp_client
        self.offset = timedelta()
        self.client: Any = None

    async def start(self) -> WebChatDriver:
        from bot.storage.models import utcnow

        self.assistant.clock = lambda: utcnow() + self.offset
        self.client = await self.aiohttp_client(create_app(self.assistant, self.settings))
        return self

    async def send(self, user: str, text: str) -> dict[str, Any]:
        response = await self.client.post("/api/chat", json={"user": user, "text": text, "slots": True},
                                         headers={"Authorization": f"Bearer {SCENARIO_KEY}"})
        body = await response.json()
        assert response.status == 200, f"POST /api/chat {text!r} -> {response.status} {body}"
        body["buttons"] = [b for r in body["replies"] for b in r["buttons"]]  # as `chat --json` lists them
        return body

    async def advance(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)

    async def restart(self) -> None:
        """As a new server process: a new assistant on the same database."""
        await self.client.close()
        self.assistant = self.build_assistant()
        await self.start()


@pytest.fixture(scope="module")
def build_web_assistant(settings, nlu_model) -> Callable[[], Any]:
    from bot.runtime import build_assistant

    return lambda: build_assistant(settings, nlu=nlu_model)


@pytest.fixture(scope="module")
def web_assistant(build_web_assistant):
    """This module's own assistant (the driver moves its clock), built once: building one takes a quarter second."""
    return build_web_assistant()


@pytest.fixture
async def driver(web_assistant, build_web_assistant, aiohttp_client, settings) -> WebChatDriver:
    return await WebChatDriver(web_assistant, build_web_assistant, aiohttp_client, settings).start()


def test_there_are_scenarios_to_run():
    assert SCENARIOS, "no conversation scenarios under tests/conversations/"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_conversation_through_the_web_endpoint(scenario, driver, user):
    await run_scenario(scenario, driver, user)
