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


# What a dossier can be doing: the ten shared statuses (TrangThaiHoSo, flows/actions/dossier_status_model.yml);
# each has a label and an explanation in flows/responses/dossier_status.yml. Anything else is "unknown".
DOSSIER_STATUSES = (
    "registered",  # 1 mới đăng ký
    "received",  # 2 được tiếp nhận
    "not_accepted",  # 3 không được tiếp nhận
    "processing",  # 4 đang xử lý
    "supplement_required",  # 5 yêu cầu bổ sung giấy tờ
    "payment_required",  # 6 yêu cầu thực hiện nghĩa vụ tài chính
    "withdrawn",  # 7 công dân yêu cầu rút hồ sơ
    "stopped",  # 8 dừng xử lý
    "result_ready",  # 9 đã xử lý xong
    "completed",  # 10 đã trả kết quả
)


@dataclass(frozen=True)
class DossierStep:
    """One change in a dossier's history: when (UTC), the status it took, what the office noted."""

    at: datetime
    status: str
    note: str = ""
    department: str = ""


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
    history: tuple[DossierStep, ...] = ()  # oldest first
    # Second factor: the last 4 digits of the applicant's ID number and phone as the provider holds them.
    holder_digits: tuple[str, ...] = ()
    raw_status: str = ""  # the provider's own word for the status, shown when the status is unknown
    lookup_url: str = ""  # the portal's public lookup page, for when the details are not here


class ProviderUnavailable(Exception):
    """The dossier provider cannot answer now (database or remote service down)."""

    def __init__(self, provider: str, reason: str):
        super().__init__(f"dossier provider '{provider}' unavailable: {reason}")
        self.provider = provider
        self.reason = reason


class DossierProvider(Protocol):
    """Looks up a dossier by its canonical code; None when it does not know the code."""

    def lookup(self, code: str) -> DossierRecord | None: ...


class DossierDesk(Protocol):
    """What the dossier flows need beyond a lookup (bot.dossiers.DossierService implements it).

    `user_key` is "channel:user id". Rate limits and the second factor live behind it, so
    enumerating codes fails whatever the channel.
    """

    def lookup(self, code: str) -> DossierRecord | None: ...

    def suggest(self, code: str) -> list[str]: ...  # known codes one character away ([] when it cannot search)

    def allow_lookup(self, user_key: str, code: str) -> bool: ...  # False: the person is over their limit (logged)

    def allow_digits(self, user_key: str, code: str) -> bool: ...  # False: this code's 4 digits guessed too often

    def record_lookup(self, user_key: str, code: str, outcome: str) -> None: ...

    def is_verified(self, user_key: str, code: str) -> bool: ...  # the second factor given lately

    def subscribe(self, user_key: str, code: str, status: str) -> bool: ...  # False: already subscribed

    def unsubscribe(self, user_key: str, code: str | None = None) -> int: ...  # how many were cancelled

    def needs_phone(self, user_key: str) -> bool: ...  # a channel that needs a phone + consent out of window

    def save_phone(self, user_key: str, phone: str) -> None: ...  # with the person's consent


@dataclass
class Services:
    knowledge: Any  # knowledge.KnowledgeBase
    desk: Desk | None = None
    dossiers: DossierProvider | None = None  # raises ProviderUnavailable when it cannot answer
    user_key: str = ""  # channel:user id of who is talking
    contact: dict[str, str] = field(default_factory=dict)  # hotline, desk hours (settings)
