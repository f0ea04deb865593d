"""Every scenario under tests/conversations/ against the real Assistant (the `chat --json` semantics)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.cli import turn_json
from tests.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios()


class AssistantDriver:
    """Turns go straight to an Assistant on the test database; its clock can be moved on."""

    def __init__(self, settings, nlu_model):
        self.settings = settings
        self.nlu_model = nlu_model
        self.offset = timedelta()
        self.assistant = self._build()

    def _build(self):
        from bot.runtime import build_assistant
        from bot.storage.models import utcnow

        assistant = build_assistant(self.settings, nlu=self.nlu_model)
        assistant.clock = lambda: utcnow() + self.offset
        return assistant

    async def send(self, user: str, text: str) -> dict[str, Any]:
        return turn_json(await self.assistant.handle("terminal", user, text))

    async def advance(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)

    async def restart(self) -> None:
        self.assistant = self._build()


@pytest.fixture(scope="module")
def driver(settings, nlu_model):
    return AssistantDriver(settings, nlu_model)


def test_there_are_enough_scenarios():
    assert len(SCENARIOS) >= 50, f"only {len(SCENARIOS)} conversation scenarios"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_conversation(scenario, driver, user):
    await run_scenario(scenario, driver, user)
