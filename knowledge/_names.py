"""Short display names for procedures: the guide's title, else the official name shortened by rule."""

from __future__ import annotations

import re
from typing import Optional, Sequence

from ._text import fold
from .schema import Guide, Procedure

__all__ = ["NAME_CHARS", "base_name", "display_name", "distinct_names", "how_it_differs", "shorten"]

NAME_CHARS = 60
_PREFIX = re.compile(r"^(thủ tục|thủ tục hành chính)\s+", re.I)
_BRACKETS = re.compile(r"\s*\([^()]*\)")
_WORD = re.compile(r"\w+")
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


def base_name(name: str) -> str:
    """The official name without "Thủ tục" and without what brackets add ("(thực hiện tại cấp tỉnh)")."""
    return _PREFIX.sub("", " ".join(_BRACKETS.sub("", name).split()))


_DIFFERENCE_CHARS = 40


def how_it_differs(variant: Procedure, common: Procedure) -> str:
    """What a variant says that the common case does not, in its own words: "lại khai sinh",
    "có yếu tố nước ngoài", "dưới 14 tuổi"; the level when only the level differs ("cấp xã")."""
    theirs = {fold(w) for w in _WORD.findall(base_name(common.name))}
    own = _WORD.findall(base_name(variant.name))
    differs = [fold(w) not in theirs for w in own]
    for i in range(1, len(own)):  # "dưới" goes with the age after it: "dưới 14 tuổi"
        if not differs[i] and (own[i].isdigit() and differs[i - 1] or i > 1 and own[i - 1].isdigit() and differs[i - 2]):
            differs[i] = True
    runs: list[list[str]] = []
    for i, word in enumerate(own):
        if differs[i]:
            if i and differs[i - 1]:
                runs[-1].append(word)
            else:
                runs.append([word])
    if runs:
        return shorten(", ".join(" ".join(run) for run in runs), _DIFFERENCE_CHARS)
    # The same name: what its brackets say ("thực hiện tại cấp huyện"), else its level.
    brackets = [b.strip(" ()") for b in _BRACKETS.findall(variant.name)]
    if brackets and brackets != [b.strip(" ()") for b in _BRACKETS.findall(common.name)]:
        return shorten(brackets[-1], _DIFFERENCE_CHARS)
    levels = [lv for lv in variant.levels if lv not in common.levels]
    if levels:
        return _LEVEL_WORDS[levels[0]]
    return shorten(_short_official(variant.name), _DIFFERENCE_CHARS)
