"""Vietnamese text normalisation for understanding: one canonical, diacritic-free form.

"Cho e hỏi đk khai sinh cần j" and "cho em hoi dang ky khai sinh can gi" become the
same text, so the model learns once what people write many ways.

The marked form (`normalize_marked`) is the same text with each word typed with
diacritics kept as typed: "còn lệ phí" stays "còn lệ phí" and does not match
"con" (a child) where words are compared by spelling; "con le phi" stays folded
and matches any spelling.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge import fold
from nlu.dossier_code import find_code_attempts

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.yml"
DOSSIER_TOKEN = "mahosotoken"
PHONE_TOKEN = "sodienthoaitoken"
# Vietnamese phone numbers, typed in one piece or in groups: 0912 345 678, +84 912.345.678
_PHONE = re.compile(r"(?<![\w.+-])(?:\+84|84|0)(?:[\s.-]?\d){8,10}(?![\w.-]*\d)")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad]")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # "khongggg" -> "khong"


class Lexicon:
    """Short forms (one or more words, folded) and the full form each stands for."""

    def __init__(self, expansions: dict[str, str], spelled: dict[str, str] | None = None):
        self.expansions = expansions
        # the full form as written in the file (with its diacritics), for the marked form
        self.spelled = spelled or dict(expansions)
        alternatives = sorted(expansions, key=len, reverse=True)
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)") if alternatives else None

    @classmethod
    def from_yaml(cls, path: Path) -> Lexicon:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        expansions: dict[str, str] = {}
        spelled: dict[str, str] = {}
        for full, shorts in raw.items():
            for short in shorts:
                key = _SPACES.sub(" ", _NON_WORD.sub(" ", fold(str(short)))).strip()
                expansions[key] = fold(str(full))
                spelled[key] = unicodedata.normalize("NFC", str(full)).lower()
        return cls(expansions, spelled)

    def expand(self, folded: str) -> str:
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self.expansions[m.group(0)], folded)


    def spans(self, folded: str) -> list[tuple[int, int, str]]:
        """(start, end, full form as spelled in the file) of each short form in a folded text."""
        if self._pattern is None:
            return []
        return [(m.start(), m.end(), self.spelled[m.group(0)]) for m in self._pattern.finditer(folded)]


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    return Lexicon.from_yaml(path)


def _masked(text: str) -> str:
    """NFC, no invisible characters, dossier codes and phone numbers as one token each."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    for start, end in reversed(find_code_attempts(text)):
        text = f"{text[:start]} {DOSSIER_TOKEN} {text[end:]}"
    return _PHONE.sub(f" {PHONE_TOKEN} ", text)


def marked_words(text: str, lexicon: Lexicon | None = None) -> list[tuple[str, str]]:
    """The canonical words as (folded, as typed): short forms expanded (spelled as in the lexicon),
    words typed without diacritics folded, words typed with them kept lowercase as typed."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    typed = [w for w in _SPACES.split(_NON_WORD.sub(" ", _masked(text).lower()).replace("_", " ")) if w]
    words = [(fold(w), w) for w in typed]
    words = [(f, w) for f, w in words if f]
    return replace_phrases(words, lexicon.spans, lambda full: [(fold(x), x) for x in full.split()])


def replace_phrases(words: list[tuple[str, str]], find, replacement) -> list[tuple[str, str]]:
    """Words with the phrases `find` locates in their folded text (start, end, value) replaced
    by `replacement(value)`: matching is on folded words, the rest keeps its spelling."""
    folded = " ".join(f for f, _ in words)
    starts, offset = {}, 0
    for index, (f, _) in enumerate(words):
        starts[offset] = index
        offset += len(f) + 1
    out: list[tuple[str, str]] = []
    index = 0
    for start, end, value in find(folded):
        first = starts.get(start)
        last = starts.get(end + 1, len(words)) if end < len(folded) else len(words)
        if first is None or first < index:
            continue
        out += words[index:first] + replacement(value)
        index = last
    return out + words[index:]


def normalize_marked(text: str, lexicon: Lexicon | None = None) -> str:
    """The canonical form with the diacritics the person typed: evidence a folded form loses."""
    return " ".join(w for _, w in marked_words(text, lexicon))


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """The canonical form: NFC, no invisible characters, folded, short forms expanded;
    dossier codes (mistyped ones too) and phone numbers become one token each (what they are, not their digits)."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    text = _masked(text)
    folded = _SPACES.sub(" ", _NON_WORD.sub(" ", fold(text))).strip()
    # Short forms first: "cccd" is a word, not a stretched "cd"; then "khongggg" -> "khong".
    folded = lexicon.expand(folded)
    return _SPACES.sub(" ", lexicon.expand(_REPEATS.sub(r"\1", folded))).strip()
