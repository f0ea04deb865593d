"""Typed commands: exact phrases (bot/commands.yml) understood as an intent before the NLU model.

For the few things the model has no intent for (the privacy notice, deleting my data) and a few
one-word menu answers it misreads: typed "bảo mật" works like the button or `/baomat`. Only a
whole message matches, so a question that merely mentions the words still goes to the model.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.assistant import Understanding
from knowledge import fold_words
from nlu.result import ParseResult

COMMANDS_FILE = Path(__file__).resolve().parent / "commands.yml"
class TypedCommands:
    """Understanding that answers the command phrases itself and asks `inner` for everything else."""

    def __init__(self, inner: Understanding, phrases: dict[str, str]):
        self.inner = inner
        self.phrases = phrases  # folded phrase -> intent

    @classmethod
    def load(cls, inner: Understanding, path: Path = COMMANDS_FILE) -> TypedCommands:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a mapping of intent: [phrases]")
        phrases: dict[str, str] = {}
        for intent, texts in raw.items():
            for text in texts or []:
                key = fold_words(str(text))
                if key in phrases and phrases[key] != intent:
                    raise ValueError(f"{path}: '{text}' is listed for both {phrases[key]} and {intent}")
                phrases[key] = str(intent)
        return cls(inner, phrases)

    def intent_of(self, text: str) -> str | None:
        return self.phrases.get(fold_words(text))

    def parse_sync(self, text: str) -> ParseResult:
        """The command a whole message is, or what the inner model understands (in a turn's worker thread)."""
        return self._command(text) or self.inner.parse_sync(text)

    async def parse(self, text: str) -> ParseResult:
        return self._command(text) or await self.inner.parse(text)

    def _command(self, text: str) -> ParseResult | None:
        intent = self.intent_of(text)
        if intent is None:
            return None
        return ParseResult(text=text, intent=intent, confidence=1.0, ranking=[(intent, 1.0)])
