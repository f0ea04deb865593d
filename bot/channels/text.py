"""Long replies cut into the parts a channel accepts, at the most natural boundary that fits."""

from __future__ import annotations

import re
import unicodedata

_SENTENCE_END = re.compile(r"[.!?…](?=\s)")


def _fit(text: str, limit: int, utf16: bool) -> int:
    """The longest prefix length of `text` within `limit` characters (or UTF-16 units, as Telegram counts)."""
    if not utf16:
        return min(limit, len(text))
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut_at(text: str, limit: int, utf16: bool) -> int:
    """Where to cut `text` so the first part fits: a paragraph, line or sentence end, else a space.

    Boundaries in the second half of what fits are preferred (parts of even size); a paragraph, line or
    sentence end earlier still beats cutting between two words. A boundary right after what fits counts.
    """
    hard = _fit(text, limit, utf16)
    window = text[: hard + 1]
    for floor in (hard // 2, 1):
        for found in (window.rfind("\n\n"), window.rfind("\n")):
            if found >= floor:
                return found
        sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window, floor) if m.end() <= hard]
        if sentence_ends:
            return sentence_ends[-1]
    space = window.rfind(" ")
    if space >= 1:
        return space
    while hard > 1 and unicodedata.combining(text[hard]):  # never split a letter from its diacritic
        hard -= 1
    return hard


def split_text(text: str, limit: int, utf16: bool = False) -> list[str]:
    """`text` in parts of at most `limit` characters (UTF-16 units with `utf16`), cut where it reads well."""
    parts: list[str] = []
    rest = text.strip()
    while _fit(rest, limit, utf16) < len(rest):
        cut = _cut_at(rest, limit, utf16)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return [p for p in parts if p]
