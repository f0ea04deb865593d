"""Short display names for procedures: the guide's title, else the official name shortened by rule."""

from __future__ import annotations

import re
from typing import Optional, Sequence

from ._text import fold
from .schema import Guide, Procedure

__all__ = ["NAME_CHARS", "display_name", "distinct_names", "shorten"]

NAME_CHARS = 60
_PREFIX = re.compile(r"^(thủ tục|thủ tục hành chính)\s+", re.I)
# Where an official name's qualifiers start: brackets, ";", ", " lists, "đối với", "trong trường hợp".
_TAIL = re.compile(
    r"\s*(\(|;|:|\s-\s| đối với | trong (?:các )?trường hợp | theo quy định | thuộc thẩm quyền | do cơ quan )", re.I
)


def shorten(text: str, limit: int = NAME_CHARS) -> str:
    """`text` within `limit` characters, cut after a whole word with "…" when it had to be cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit].rsplit(" ", 1)[0].rstrip(",;:-(") + "…"


def _short_official(name: str) -> str:
    name = _PREFIX.sub("", " ".join(name.split()))
    name = name[:1].upper() + name[1:]
    if len(name) <= NAME_CHARS:
        return name
    cut = _TAIL.search(name, 20)
    if cut and cut.start() <= NAME_CHARS:
        return name[: cut.start()].rstrip(" ,;-")
    return shorten(name)


def display_name(procedure: Procedure, guide: Optional[Guide] = None) -> str:
    """The name to show on buttons and headers: the guide's title, or the official name shortened."""
    if guide is not None:
        return guide.title
    return _short_official(procedure.name)


_LEVEL_WORDS = {"bo": "trung ương", "tinh": "cấp tỉnh", "xa": "cấp xã", "khac": "cơ quan khác"}


def _difference(procedure: Procedure, others: Sequence[Procedure]) -> str:
    """What sets `procedure` apart from look-alikes: its level, else words of its name the others lack."""
    levels = {lv for o in others for lv in o.levels}
    own = [lv for lv in procedure.levels if lv not in levels]
    if own:
        return _LEVEL_WORDS[own[0]]
    theirs = {w for o in others for w in fold(o.name).split()}
    words = [w for w in procedure.name.split() if fold(w) not in theirs and len(w) > 1]
    return shorten(" ".join(words), 30) if words else procedure.code


def distinct_names(procedures: Sequence[Procedure], guides: Sequence[Optional[Guide]]) -> list[str]:
    """Display names unique among `procedures`; look-alikes say how they differ ("… (cấp tỉnh)")."""
    names = [display_name(p, g) for p, g in zip(procedures, guides)]
    result = list(names)
    for i, name in enumerate(names):
        twins = [procedures[j] for j, other in enumerate(names) if j != i and fold(other) == fold(name)]
        if twins:
            suffix = f" ({_difference(procedures[i], twins)})"
            result[i] = shorten(name, NAME_CHARS - len(suffix)) + suffix
    seen: dict[str, int] = {}
    for i, name in enumerate(result):  # still equal (same level, same words): the code tells them apart
        key = fold(name)
        if key in seen:
            result[i] = shorten(name, NAME_CHARS - 11) + f" ({procedures[i].code})"
        seen[key] = i
    return result
