"""One phone screen per answer: sections packed into at most `SCREEN_CHARS` characters, the rest one tap away.

An answer is one or more `Section`s (one per aspect asked). Each section has a head line,
body lines (already ordered for the common case) and its own buttons ("Trường hợp riêng (N)",
"Xem đầy đủ"). Lines are never cut inside: what does not fit goes to the next page, which a
"Tiếp" button opens, and the text says how many more there are. The same `Reply` serves
Telegram, Zalo and the web; each channel renders it within its own limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flows.replies import Button

__all__ = ["ITEM_CHARS", "SCREEN_CHARS", "Section", "clip", "pack", "sentences"]

# Characters of text before the buttons in a first answer (a 412x915 phone screen).
SCREEN_CHARS = 700
# A first-screen item is cut to this many characters (whole sentences first); "Xem đầy đủ" has the rest.
ITEM_CHARS = 150
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\s+(?=[-+]\s)|\n+")


@dataclass
class Section:
    """What one aspect says: a head line, body lines in order, and buttons to the rest."""

    aspect: str
    head: str
    lines: list[str] = field(default_factory=list)
    # Lines after the body, always shown with it (a unit explained once, other charges).
    tail: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def size(self) -> int:
        return len("\n".join([self.head, *self.lines, *self.tail]))


def sentences(text: str) -> list[str]:
    """`text` in whole sentences and list items."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split()) if "\n" not in text else text) if s.strip()]


def clip(text: str, limit: int) -> str:
    """`text` up to `limit` characters: whole sentences when they fit, else cut after a word with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in sentences(text):
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    if kept and len(kept) >= limit // 3:
        return kept.rstrip(";,") + " …"
    head = text[:limit]
    clause = max(head.rfind(", "), head.rfind("; "), head.rfind(" – "))
    if clause >= limit // 2:  # end at a clause rather than inside one
        return head[:clause].rstrip() + " …"
    return head.rsplit(" ", 1)[0].rstrip(",;:(") + "…"


def _split_long(line: str, budget: int) -> list[str]:
    """A line longer than a page, in sentence-sized pieces (words when a sentence is too long)."""
    pieces: list[str] = []
    for sentence in sentences(line):
        while len(sentence) > budget:
            cut = sentence[:budget].rsplit(" ", 1)[0] or sentence[:budget]
            pieces.append(cut)
            sentence = sentence[len(cut):].strip()
        if pieces and len(pieces[-1]) + len(sentence) + 1 <= budget:
            pieces[-1] = f"{pieces[-1]} {sentence}"
        elif sentence:
            pieces.append(sentence)
    return pieces


def pack(lines: list[str], budget: int) -> list[list[str]]:
    """`lines` in pages of at most `budget` characters (joined by newlines), never cutting a sentence.

    A heading (a line ending with ":") starts a page again when its items run on to the next one.
    """
    pages: list[list[str]] = [[]]
    used = 0
    heading = ""
    for line in lines:
        if line.endswith(":"):
            heading = line
        for piece in _split_long(line, budget) if len(line) > budget else [line]:
            if pages[-1] and used + len(piece) + 1 > budget:
                # A heading goes with its first item, not alone at a page's end.
                carried = [pages[-1].pop()] if len(pages[-1]) > 1 and pages[-1][-1].endswith(":") else []
                if not carried and heading and piece != heading and len(heading) + len(piece) + 2 <= budget:
                    carried = [heading]
                pages.append(carried)
                used = sum(len(c) + 1 for c in carried)
            pages[-1].append(piece)
            used += len(piece) + 1
    return [p for p in pages if p] or [[]]
