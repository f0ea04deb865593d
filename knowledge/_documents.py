"""Which of a record's documents most people need, and which only some cases need.

A guide names its core documents by `document_key` (a stable key made from the
start of the record's document name), so the wording is the guide's and the
facts (name, copies, form file) stay the record's. Records without a guide are
ordered by rule: general rows first, rows that open with "Trường hợp…",
"Nếu…", "Đối với…" (or sit under a case heading) grouped by their case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ._text import fold
from .schema import Document, Guide, Procedure

__all__ = [
    "CoreDocument", "DocumentSelection", "clean_name", "document_key", "find_document", "form_codes", "normal_code",
    "select_documents",
]

KEY_WORDS = 8
_LEADING_MARKS = re.compile(r"^[\s\-–•+*.)(]+")
# A row (or its group heading) that applies only in some cases.
_CONDITIONAL = re.compile(r"^(trường hợp|trong trường hợp|nếu|đối với|riêng|ngoài ra|người .{0,40} thuộc trường hợp)", re.I)
# Headings that hold every case: what to submit, what to show, notes.
_GENERAL_GROUPS = re.compile(r"^(giấy tờ phải (nộp|xuất trình)|thành phần hồ sơ|hồ sơ gồm|giấy tờ)", re.I)
_NOTE_GROUP = re.compile(r"^lưu ý", re.I)
# A form code as the record writes it after "mẫu": CT01, DC02, TK1-TS, TP/HT-2015-KS, 02/ĐK.
_FORM_CODE = re.compile(
    r"(?:mẫu|mau)\s*(?:số\s*|so\s*)?(?:[:.]\s*)?([A-ZĐ]{1,6}\s?\d{1,3}[a-z]?(?:[-/.][A-ZĐ0-9]{1,8})*|\d{1,3}(?:[-/.][A-ZĐ0-9]{1,8})+)",
    re.I,
)


def clean_name(name: str) -> str:
    """The document name without the list marks the portal keeps ("- ", "+ ", "• ")."""
    return _LEADING_MARKS.sub("", name).strip()


def document_key(name: str) -> str:
    """A stable key for a record's document: its first words, folded ("to-khai-dang-ky-khai-sinh-theo-mau")."""
    words = re.findall(r"[a-z0-9]+", fold(clean_name(name)))
    return "-".join(words[:KEY_WORDS])


def find_document(procedure: Procedure, key: str) -> Optional[Document]:
    """The record's first document with this key (or whose key starts with it), or None."""
    for document in procedure.documents:
        own = document_key(document.name)
        if own == key or (own.startswith(key + "-") and key):
            return document
    return None


def form_codes(text: str) -> list[str]:
    """Form codes named in a document's name or form file ("mẫu CT01" -> "CT01")."""
    return list(dict.fromkeys(normal_code(m.group(1)) for m in _FORM_CODE.finditer(text)))


def normal_code(code: str) -> str:
    """A form code as people may type it: upper case, without spaces ("tk1-ts" -> "TK1-TS")."""
    return re.sub(r"\s+", "", code).upper().rstrip(".-/")


@dataclass(frozen=True)
class CoreDocument:
    """A document most people need: the guide's wording (or the record's name) and the record's row."""

    text: str
    document: Document


@dataclass(frozen=True)
class DocumentSelection:
    """A record's documents: the common case, the special cases by their case, and notes."""

    core: tuple[CoreDocument, ...]
    # (case, documents) in record order; the case is the row's own opening or its group heading.
    cases: tuple[tuple[str, tuple[Document, ...]], ...] = ()
    notes: tuple[Document, ...] = field(default_factory=tuple)

    @property
    def special_count(self) -> int:
        return sum(len(docs) for _, docs in self.cases)


def _case_of(document: Document, case_groups: bool) -> Optional[str]:
    """The case a row applies to, or None for a row everyone needs."""
    name = clean_name(document.name)
    group = (document.group or "").strip()
    if case_groups and group and not _GENERAL_GROUPS.match(group) and not _NOTE_GROUP.match(group):
        return group
    if _CONDITIONAL.match(name):
        head = re.split(r"[,:;]| thì | phải ", name, maxsplit=1)[0]
        return head if len(head) <= 120 else head[:120].rsplit(" ", 1)[0] + "…"
    return None


def select_documents(procedure: Procedure, guide: Optional[Guide]) -> DocumentSelection:
    """The record's documents ordered for the common case (the guide's choice when there is one)."""
    groups = {d.group for d in procedure.documents if d.group and not _GENERAL_GROUPS.match(d.group)
              and not _NOTE_GROUP.match(d.group)}
    case_groups = len(groups) >= 2
    core: list[CoreDocument] = []
    used: set[int] = set()
    if guide is not None:
        for item in guide.documents_to_prepare:
            document = find_document(procedure, item.document)
            if document is not None:
                core.append(CoreDocument(item.item, document))
                used.add(id(document))
    cases: dict[str, list[Document]] = {}
    notes: list[Document] = []
    seen_names: set[str] = {fold(clean_name(c.document.name)) for c in core}
    for document in procedure.documents:
        name = clean_name(document.name)
        if id(document) in used or not name:
            continue
        if document.is_note or _NOTE_GROUP.match(document.group or ""):
            notes.append(document)
            continue
        folded = fold(name)
        if folded in seen_names:
            continue
        seen_names.add(folded)
        case = _case_of(document, case_groups)
        if case is None and guide is None:
            core.append(CoreDocument(name, document))
        else:
            cases.setdefault(case or "", []).append(document)
    # Under a guide, rows it did not pick and that name no case are "other cases" too.
    ordered = [(case, tuple(docs)) for case, docs in cases.items() if case] + (
        [("", tuple(cases[""]))] if "" in cases else []
    )
    return DocumentSelection(tuple(core), tuple(ordered), tuple(notes))
