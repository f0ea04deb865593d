"""What the NLU understood of one message: the contract between NLU and flows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# A button press sends `/intent` or `/intent{"entity": "value"}` as its text.
_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_][a-z0-9_]*)(?P<entities>\{.*\})?$", re.S)


@dataclass(frozen=True)
class ProcedureMatch:
    code: str
    name: str
    score: float


@dataclass
class ParseResult:
    text: str
    intent: str | None = None
    confidence: float = 0.0
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: dict[str, str] = field(default_factory=dict)
    procedures: list[ProcedureMatch] = field(default_factory=list)
    from_button: bool = False
    aspects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "entities": self.entities,
            "procedures": [
                {"code": p.code, "name": p.name, "score": round(p.score, 4)} for p in self.procedures
            ],
            "aspects": list(self.aspects),
        }


def parse_payload(text: str) -> ParseResult | None:
    """A button payload understood without the model, or None for typed text."""
    match = _PAYLOAD.match(text.strip())
    if not match:
        return None
    entities: dict[str, str] = {}
    if match.group("entities"):
        try:
            raw = json.loads(match.group("entities"))
        except (json.JSONDecodeError, RecursionError):  # nested past the parser's depth: typed text, not a button
            return None
        if not isinstance(raw, dict):
            return None
        entities = {str(k): str(v) for k, v in raw.items()}
    intent = match.group("intent")
    aspects = [entities["aspect"]] if entities.get("aspect") else []
    return ParseResult(
        text=text, intent=intent, confidence=1.0, ranking=[(intent, 1.0)], entities=entities, from_button=True, aspects=aspects
    )
