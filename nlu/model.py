"""The trained NLU model, loaded once; turns a message into a ParseResult."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from nlu.result import ParseResult, ProcedureMatch
from nlu.train import model_file

log = logging.getLogger(__name__)


class ModelMissingError(RuntimeError):
    """No trained model matches the current training data and config."""


class NluModel:
    """A Rasa NLU model; `parse` is what the Assistant calls for every typed message."""

    def __init__(self, agent: Any, path: Path, load_seconds: float):
        self._agent = agent
        self.path = path
        self.load_seconds = load_seconds

    @classmethod
    def load(cls, model_dir: Path, path: Path | None = None) -> NluModel:
        path = path or model_file(model_dir)
        if not path.exists():
            raise ModelMissingError(
                f"No NLU model for the current data at {path}. Train it with `python -m nlu train` (make run does)."
            )
        started = time.monotonic()
        from rasa.core.agent import Agent

        agent = Agent.load(str(path))
        seconds = time.monotonic() - started
        log.info("NLU model %s loaded in %.1f s", path.name, seconds)
        return cls(agent, path, seconds)

    async def parse(self, text: str) -> ParseResult:
        raw = await self._agent.parse_message(text)
        return to_parse_result(text, raw)


def to_parse_result(text: str, raw: dict[str, Any]) -> ParseResult:
    intent = raw.get("intent") or {}
    entities: dict[str, str] = {}
    for entity in raw.get("entities", []):
        entities.setdefault(entity["entity"], str(entity["value"]))
    return ParseResult(
        text=text,
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        ranking=[(r["name"], float(r["confidence"])) for r in raw.get("intent_ranking", [])],
        entities=entities,
        procedures=[ProcedureMatch(p["code"], p["name"], float(p["score"])) for p in raw.get("procedures", [])],
    )
