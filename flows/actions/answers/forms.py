"""The forms answer: which of a record's documents are forms to fill in, named as people say them, with their code and file.

A form file or a form code marks a form; so does a row whose name opens as one ("Tờ khai…", "Đơn…").
The forms most people fill in (the guide's core documents, or the general rows) come first.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from flows.actions.answers.compose import ITEM_CHARS, clip
from knowledge import clean_name, fold, form_codes, select_documents

__all__ = ["FORMS_SHOWN", "form_documents", "form_name", "forms"]

Text = Callable[..., str]
# What a form's name carries besides the name: a list mark, "Bản chính", then the decree and the details.
_FORM_LEAD = re.compile(r"^(?:[a-zđ]\)|\d+(?:\.\d+)*\.?|\(\d+(?:\.\d+)*\))\s*|^bản (?:chính|sao)\s+", re.I)
_FORM_TAIL = re.compile(r"\s(?:ban hành kèm|kèm theo|Phụ lục|theo quy định|quy định tại|của Bộ|Nghị định|Thông tư|đối với|"
                        r"trong trường hợp|nếu|dành cho)\s|[.;]\s|\s\(", re.I)
# A form's name longer than this ends at its first comma after the opening words.
FORM_NAME_CHARS = 70
# Forms on a first screen (the rest under "Xem đầy đủ").
FORMS_SHOWN = 4
_FORM_NAME = re.compile(r"^(tờ khai|đơn|phiếu|giấy đề nghị|văn bản đề nghị|bản khai|mẫu|biểu mẫu)|theo mẫu|\(mẫu|mẫu số", re.I)


def _is_form(document: Any) -> bool:
    name = clean_name(document.name)
    return not document.is_note and bool(document.template or form_codes(name) or _FORM_NAME.search(name))


def _form_key(document: Any) -> tuple[str, ...]:
    """Rows that are one form: the same file, else the same name and code."""
    if document.template:
        return ("file", fold(document.template))
    name = clean_name(document.name)
    return (fold(form_name(name))[:60], *form_codes(name)[:1])


def form_documents(procedure: Any, guide: Any = None) -> tuple[list[Any], int]:
    """The record's documents that are forms to fill in, the common case first, and how many are common.

    A form file or a form code is a form; so is a row whose name opens as one ("Tờ khai…", "Đơn…").
    The guide's core documents (or the general rows) come first, then those of special cases.
    """
    selection = select_documents(procedure, guide)
    common = [c.document for c in selection.core]
    rest = [d for _, docs in selection.cases for d in docs]
    rest += [d for d in procedure.documents if d not in common and d not in rest]
    forms: list[Any] = []
    seen: set[tuple[str, ...]] = set()
    shown_common = 0
    for index, group in enumerate((common, rest)):
        for document in group:
            if _is_form(document) and _form_key(document) not in seen:
                seen.add(_form_key(document))
                forms.append(document)
                shown_common += index == 0
    return forms, shown_common


def form_name(name: str) -> str:
    """A form's name as people say it: without list marks, "Bản chính", the decree it comes from, the details."""
    name = _FORM_LEAD.sub("", clean_name(name))
    head = _FORM_TAIL.split(name, maxsplit=1)[0].strip(" ,;:-–")
    if len(head) > FORM_NAME_CHARS and ", " in head[25:]:  # "Tờ khai … theo mẫu, có đủ thông tin của …"
        head = head[:25] + head[25:].split(", ", 1)[0]
    return head if len(head) >= 10 else name


def _form_line(text: Text, document: Any, full: bool) -> str:
    name = clean_name(document.name)
    codes = form_codes(f"{name} {document.template or ''}")
    if full:
        shown = name
    elif _FORM_NAME.search(name) or form_codes(name):
        shown = clip(form_name(name), ITEM_CHARS)
    else:  # a row that only carries a form file ("Lao động nữ khi khám thai" + 14-HSB.docx): the file is the form
        shown = text("form_for", case=clip(form_name(name), 60))
    named = codes and codes[0].lower() in shown.lower()
    line = text("form_line", name=shown.rstrip(".;, "),
                code=text("form_code", code=codes[0]) if codes and not named else "",
                file=text("form_file", file=document.template) if document.template else "")
    return " ".join(line.split())


def forms(text: Text, procedure: Any, part: str, guide: Any = None, asked_codes: tuple[str, ...] = (),
          **_: Any) -> tuple[list[str], dict[str, Any]]:
    found, common = form_documents(procedure, guide)
    every = len(found)
    if asked_codes and part != "all":  # the form asked by code, alone on the first screen
        asked = [d for d in found if set(form_codes(f"{d.name} {d.template or ''}")) & set(asked_codes)]
        found = asked[:1] or found
    elif part != "all":  # the forms most people fill in; those of special cases under "Xem đầy đủ"
        found = found[:min(common, FORMS_SHOWN) or FORMS_SHOWN]
    lines = [_form_line(text, d, part == "all") for d in found]
    if not lines:
        return [text("forms_none")], {}
    return lines, {"all": int(part != "all" and (len(found) < every or any("…" in x for x in lines) or any(
        form_name(d.name) != clean_name(d.name) for d in found))), "tail": [text("forms_download")]}
