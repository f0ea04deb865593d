"""What actions may use, as interfaces: the Assistant injects the implementations.

Flows never import the bot package; the bot passes these in (storage-backed desk,
dossier providers, the knowledge base), so the direction of travel stays one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Desk(Protocol):
    """Where the one-stop desk sees tickets, feedback and ratings."""

    def open_ticket(self, user_key: str, reason: str, summary: str) -> str: ...

    def save_feedback(self, user_key: str, kind: str, text: str, rating: str | None = None) -> str: ...

    def forget_user(self, user_key: str) -> int: ...


@dataclass
class Services:
    knowledge: Any  # knowledge.KnowledgeBase
    desk: Desk | None = None
    dossiers: Any = None  # a dossier provider (dossier issue)
    user_key: str = ""  # channel:user id of who is talking
    contact: dict[str, str] = field(default_factory=dict)  # hotline, desk hours (settings)
