"""Vietnamese text normalisation for understanding: one canonical, diacritic-free form.

"Cho e hỏi đk khai sinh cần j" and "cho em hoi dang ky khai sinh can gi" become the
same text, so the model learns once what people write many ways.
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

    def __init__(self, expansions: dict[str, str]):
        self.expansions = expansions
        alternatives = sorted(expansions, key=len, reverse=True)
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)") if alternatives else None

    @classmethod
    def from_yaml(cls, path: Path) -> Lexicon:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        expansions: dict[str, str] = {}
        for full, shorts in raw.items():
            for short in shorts:
                key = _SPACES.sub(" ", _NON_WORD.sub(" ", fold(str(short)))).strip()
                expansions[key] = fold(str(full))
        return cls(expansions)

    def expand(self, folded: str) -> str:
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self.expansions[m.group(0)], folded)


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    return Lexicon.from_yaml(path)


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """The canonical form: NFC, no invisible characters, folded, short forms expanded;
    dossier codes (mistyped ones too) and phone numbers become one token each (what they are, not their digits)."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    for start, end in reversed(find_code_attempts(text)):
        text = f"{text[:start]} {DOSSIER_TOKEN} {text[end:]}"
    text = _PHONE.sub(f" {PHONE_TOKEN} ", text)
    folded = _SPACES.sub(" ", _NON_WORD.sub(" ", fold(text))).strip()
    # Short forms first: "cccd" is a word, not a stretched "cd"; then "khongggg" -> "khong".
    folded = lexicon.expand(folded)
    return _SPACES.sub(" ", lexicon.expand(_REPEATS.sub(r"\1", folded))).strip()
