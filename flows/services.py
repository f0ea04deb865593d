"""What actions may use, as interfaces: the Assistant injects the implementations.

Flows never import the bot package; the bot passes these in (storage-backed desk,
dossier providers, the knowledge base), so the direction of travel stays one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


class Desk(Protocol):
    """Where the one-stop desk sees tickets, feedback and ratings."""

    def open_ticket(self, user_key: str, reason: str, summary: str) -> str: ...

    def save_feedback(self, user_key: str, kind: str, text: str, rating: str | None = None) -> str: ...

    def forget_user(self, user_key: str) -> int: ...


# What a dossier can be doing; each has a label and an explanation in flows/responses/dossier_status.yml.
DOSSIER_STATUSES = (
    "received",  # đã tiếp nhận
    "processing",  # đang giải quyết
    "supplement_required",  # cần bổ sung
    "overdue",  # quá hạn
    "result_ready",  # có kết quả, chờ nhận
    "completed",  # đã trả kết quả
    "refused",  # trả lại, từ chối giải quyết
    "withdrawn",  # đã rút, dừng xử lý
)


@dataclass(frozen=True)
class DossierRecord:
    """One dossier as a provider knows it; `code` is canonical (nlu.dossier_code)."""

    code: str
    status: str  # one of DOSSIER_STATUSES (a provider may know others; they are shown as they are)
    procedure_name: str = ""
    procedure_code: str | None = None
    received_on: date | None = None
    due_on: date | None = None
    note: str = ""  # what the office wrote for the citizen (what to add, why refused, where to collect)
    updated_at: datetime | None = None


class ProviderUnavailable(Exception):
    """The dossier provider cannot answer now (database or remote service down)."""

    def __init__(self, provider: str, reason: str):
        super().__init__(f"dossier provider '{provider}' unavailable: {reason}")
        self.provider = provider
        self.reason = reason


class DossierProvider(Protocol):
    """Looks up a dossier by its canonical code; None when it does not know the code."""

    def lookup(self, code: str) -> DossierRecord | None: ...


@dataclass
class Services:
    knowledge: Any  # knowledge.KnowledgeBase
    desk: Desk | None = None
    dossiers: DossierProvider | None = None  # raises ProviderUnavailable when it cannot answer
    user_key: str = ""  # channel:user id of who is talking
    contact: dict[str, str] = field(default_factory=dict)  # hotline, desk hours (settings)
