"""Typed knowledge entries: a catalog `Procedure` and its curated `Guide`.

Field names are English snake_case; values stay Vietnamese as the national
catalog publishes them. Every model forbids unknown keys, so a typo in a shipped
file fails `python -m knowledge check` instead of being silently dropped.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, List, Literal, Optional

from pydantic import BaseModel, Extra, Field, root_validator, validator

__all__ = [
    "Agencies",
    "Channel",
    "ChannelKind",
    "ChecklistItem",
    "Document",
    "FactPath",
    "Fee",
    "FeeKind",
    "Guide",
    "LegalReference",
    "Level",
    "Money",
    "OnlineLevel",
    "Procedure",
    "ProcessingTime",
    "Quantity",
    "TimeUnit",
    "WalkthroughStep",
]

CODE_PATTERN = re.compile(r"^\d+\.\d{6}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ChannelKind = Literal["online", "in_person", "postal"]
TimeUnit = Literal["ngay_lam_viec", "ngay", "gio", "thang"]
FeeKind = Literal["free", "amount", "unknown"]
Currency = Literal["VND", "USD"]
QuantityKind = Literal["ban_chinh", "ban_sao"]
# "khac" is the catalog's "Cơ quan khác" (courts, other bodies); 51 records use it.
Level = Literal["bo", "tinh", "xa", "khac"]
OnlineLevel = Literal["full", "partial", "none", "unknown"]
OnlineLevelBasis = Literal["stated", "inferred"]
WalkthroughMode = Literal["full", "partial", "postal"]

_LEGACY_ONLINE_LEVEL = {"full": "mức độ 4", "partial": "mức độ 3"}


class _Entry(BaseModel):
    class Config:
        extra = Extra.forbid
        allow_mutation = False


class ProcessingTime(_Entry):
    """How long the agency takes, exactly as the record states it."""

    # None when the cell is not a number ("Không có thông tin", free text).
    value: Optional[float] = None
    # None when the record gives a bare number ("1"): the unit is unknown, never guessed.
    unit: Optional[TimeUnit] = None
    # The original cell, e.g. "5 Ngày làm việc", "1", "Không quy định".
    text: str = ""


class Money(_Entry):
    """One amount of a fee."""

    value: float
    currency: Currency
    # The original wording, e.g. "2,000,000 Việt Nam Đồng" or "15000000/lần Đồng".
    text: str
    # True for VND amounts under 1,000: the portal often lists those in thousands
    # ("20 VNĐ" next to a note saying "20.000 đồng"); read the note before quoting.
    doubtful: bool = False


class Fee(_Entry):
    """Fee of one channel: the table cell and the note the portal prints after it."""

    kind: FeeKind
    amounts: List[Money] = Field(default_factory=list)
    # The fee cell as shown: "Miễn phí", "2,000,000 Việt Nam Đồng", "Không có thông tin".
    label: str = ""
    # The note in brackets after the cell, verbatim (often the real rule).
    text: str = ""
    # The note mentions money even though `kind` says otherwise; quote the note.
    note_mentions_amount: bool = False


class Channel(_Entry):
    """One way to submit (a row of "Cách thức thực hiện")."""

    kind: ChannelKind
    time: ProcessingTime
    fee: Fee
    # The "Mô tả" cell: conditions of the channel, deadlines in words.
    description: str = ""


class Quantity(_Entry):
    count: int = Field(..., ge=0)
    kind: QuantityKind


class Document(_Entry):
    """One row of "Thành phần hồ sơ"."""

    name: str
    # The form file the portal links ("Mẫu TP-LS-02-sđ.docx"), when the row has one.
    template: Optional[str] = None
    # Non-zero counts only: "0 bản chính,1 bản sao" -> [1 ban_sao].
    quantity: List[Quantity] = Field(default_factory=list)
    # The original quantity cell, e.g. "0 bản chính,1 bản sao"; "" when the row had none.
    quantity_text: str = ""
    # The heading the row sits under: "Giấy tờ phải nộp", "Giấy tờ phải xuất trình", ...
    group: Optional[str] = None

    @property
    def is_note(self) -> bool:
        """True for rows that only explain (the portal gives them "0 bản chính")."""
        return not self.quantity


class LegalReference(_Entry):
    title: str
    # Official number, e.g. "123/2015/NĐ-CP", "60/2014/QH13"; None when the row has none.
    number: Optional[str] = None


class Agencies(_Entry):
    implementing: str = ""
    competent: str = ""
    authorised: str = ""
    coordinating: str = ""
    # "Địa chỉ tiếp nhận HS": where to submit, when the record says.
    submission_address: str = ""


class Procedure(_Entry):
    """One administrative procedure of the national catalog, parsed."""

    code: str
    name: str
    field: str = ""
    levels: List[Level] = Field(default_factory=list)
    audience: List[str] = Field(default_factory=list)
    agencies: Agencies = Field(default_factory=Agencies)
    channels: List[Channel] = Field(default_factory=list)
    documents: List[Document] = Field(default_factory=list)
    steps: List[str] = Field(default_factory=list)
    conditions: List[str] = Field(default_factory=list)
    result: List[str] = Field(default_factory=list)
    legal_basis: List[LegalReference] = Field(default_factory=list)
    online_level: OnlineLevel = "unknown"
    online_level_basis: OnlineLevelBasis = "inferred"
    # Why: the words that state the level, or how it was inferred from the channels.
    online_level_evidence: str = ""
    source_url: str
    catalog_date: str
    decision: str = ""
    kind: str = ""
    # Folder of the source catalog: the ministry that publishes the record.
    ministry: str = ""

    @validator("code")
    def _code_format(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError(f"not a procedure code like '1.001193': {value!r}")
        return value

    @property
    def online_level_legacy(self) -> Optional[str]:
        """The older wording: "mức độ 4" for full online, "mức độ 3" for partial."""
        return _LEGACY_ONLINE_LEVEL.get(self.online_level)

    @property
    def has_fee(self) -> bool:
        """True when a channel lists an amount, or its fee note mentions one.

        The portal sometimes shows "Miễn phí" in the cell and the real fee in
        the note ("Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần"), so the
        payment step is shown in both cases.
        """
        return any(c.fee.kind == "amount" or c.fee.note_mentions_amount for c in self.channels)

    def channel(self, kind: ChannelKind) -> Optional[Channel]:
        """The first channel of this kind, if the procedure offers it."""
        return next((c for c in self.channels if c.kind == kind), None)


class FactPath(str):
    """A dotted path to a Procedure field ("channels.fee", "documents")."""

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], "FactPath"]]:
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> "FactPath":
        if not isinstance(value, str):
            raise TypeError("a dotted Procedure field path is required")
        head, _, rest = value.partition(".")
        field = Procedure.__fields__.get(head)
        if field is None:
            raise ValueError(f"not a Procedure field: {value!r}")
        if rest:
            inner = field.type_
            if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
                raise ValueError(f"{head!r} has no sub-fields: {value!r}")
            if rest.split(".")[0] not in inner.__fields__:
                raise ValueError(f"not a field of {inner.__name__}: {value!r}")
        return cls(value)


class WalkthroughStep(_Entry):
    """One step of the online walkthrough on dichvucong.gov.vn."""

    id: str
    title: str
    text: str
    # Which ways of doing the procedure the step is for.
    applies_to: List[WalkthroughMode] = Field(..., min_items=1)
    tips: List[str] = Field(default_factory=list)
    # "has_fee": show the step only when the Procedure lists an amount to pay.
    only_if: Optional[Literal["has_fee"]] = None

    @validator("id")
    def _id_format(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"step id must be lowercase-with-dashes: {value!r}")
        return value

    @validator("applies_to")
    def _no_duplicates(cls, value: List[str]) -> List[str]:
        if len(set(value)) != len(value):
            raise ValueError("repeated value")
        return value


class ChecklistItem(_Entry):
    """A core document to prepare: the guide's short wording, anchored to a document row of the record."""

    item: str
    # The record's document row, by `knowledge.document_key` of its name (its first words,
    # folded: "to-khai-dang-ky-khai-sinh-theo-mau"); copies and form file are read there.
    # `check` fails when the record no longer has a row with this key.
    document: str

    @validator("document")
    def _key_format(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"a document key is lowercase-with-dashes (knowledge.document_key): {value!r}")
        return value


class Guide(_Entry):
    """Curated plain-language overlay for one procedure; facts stay in the record."""

    code: str
    slug: str
    title: str
    aliases: List[str] = Field(..., min_items=1)
    summary: str
    # Why this record and not a similar one (commune vs province, variants).
    record_choice: str = ""
    # Empty when the record lists no online channel (then in_person_notes says what to do).
    online_walkthrough: List[WalkthroughStep] = Field(default_factory=list)
    postal_notes: List[str] = Field(default_factory=list)
    # For what happens at the office: bring originals, get the result in person,
    # or the whole procedure when the record lists no online channel.
    in_person_notes: List[str] = Field(default_factory=list)
    documents_to_prepare: List[ChecklistItem] = Field(default_factory=list)
    # Procedure fields (dotted paths) whose values are shown with this guide,
    # e.g. "channels.fee", "documents"; facts are read there, never copied here.
    facts_from: List[FactPath] = Field(..., min_items=1)

    @validator("code")
    def _code_format(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError(f"not a procedure code like '1.001193': {value!r}")
        return value

    @validator("slug")
    def _slug_format(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"slug must be lowercase-with-dashes: {value!r}")
        return value

    @root_validator(skip_on_failure=True)
    def _unique_step_ids(cls, values: dict) -> dict:
        ids = [step.id for step in values.get("online_walkthrough", [])]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"repeated step id: {', '.join(repeated)}")
        return values

    def steps_for(self, mode: WalkthroughMode, *, has_fee: bool = True) -> List[WalkthroughStep]:
        """The walkthrough steps that apply to one way of doing the procedure."""
        return [step for step in self.online_walkthrough if mode in step.applies_to and (step.only_if != "has_fee" or has_fee)]
