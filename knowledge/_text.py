"""Text normalisation shared by the parser, the search index and the CLI."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["clean_text", "fold", "marked_tokens", "tokens"]


def _build_fold_table() -> dict[int, str]:
    """Map every accented Latin letter to its bare lowercase base letter."""
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "d"}
    for code in range(0x00C0, 0x2000):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if base and base != char and base.isascii():
            table[code] = base.lower()
    return table


_FOLD_TABLE = _build_fold_table()
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[0-9a-z]+")
# Combining marks left over when the input was typed decomposed (NFD) or with
# a stray tone mark: fold drops them so "khai sinh" in any encoding matches.
_COMBINING = re.compile(r"[\u0300-\u036f]")


def fold(text: str) -> str:
    """Return ``text`` lowercased, without diacritics, đ->d, spaces collapsed.

    ``fold("Làm GIẤY khai sinh Đ") == "lam giay khai sinh d"``.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_FOLD_TABLE).lower()
    text = _COMBINING.sub("", text)
    return _SPACES.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """Split folded text into ASCII word tokens (Vietnamese syllables, numbers).

    Numbers lose their leading zeros: records write "mức độ 02", people type "mức 2".
    """
    return [t.lstrip("0") or "0" if t.isdigit() else t for t in _TOKEN.findall(fold(text))]


def fold_words(text: str) -> str:
    """The words of ``text``, folded, joined by one space: how typed phrases, commands and button titles compare.

    ``fold_words("🔎 Tra cứu hồ sơ!") == "tra cuu ho so"``.
    """
    return " ".join(_TOKEN.findall(fold(text)))


# The five Vietnamese tone marks. A syllable carries one; where it sits varies
# between spelling habits ("hoá" / "hóa", "thuỷ" / "thủy"), so a word's form
# keeps the tone apart from the letters.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# The vowel and consonant marks that make different letters (ă â ê ô ơ ư).
_LETTER_MARKS = frozenset("\u0302\u0306\u031b")


def _build_aligned_table() -> dict[int, str]:
    """Like the fold table, one character for one, and stray combining marks kept as NUL.

    Folding with it keeps every character at its place, so the n-th token of the
    folded text and the n-th word of the typed text are the same slice.
    """
    table = {code: value for code, value in _FOLD_TABLE.items() if len(value) == 1}
    table.update({code: "\0" for code in range(0x0300, 0x0370)})
    table[0] = " "  # a NUL typed by the user separates words, as in tokens()
    return table


_ALIGNED_TABLE = _build_aligned_table()
# A word: a letter or digit, then letters, digits and the marks typed after them.
_ALIGNED_TOKEN = re.compile(r"[0-9a-z][0-9a-z\0]*")
# The same words in the typed (NFC, lowercased) text: the characters that fold to a letter or digit.
_WORD_CHARS = "0-9a-z" + "".join(sorted(re.escape(chr(code)) for code, value in _ALIGNED_TABLE.items() if value != "\0"))
_TYPED_TOKEN = re.compile(rf"[{_WORD_CHARS}][{_WORD_CHARS}\u0300-\u036f]*")


@lru_cache(maxsize=65536)
def _form(word: str) -> str:
    """A lowercase word's spelling with its diacritics, tone written last ("hoá" == "hóa")."""
    tone = ""
    letters = []
    for char in unicodedata.normalize("NFD", word):
        if char in _TONES:
            tone = char
        elif not unicodedata.combining(char) or char in _LETTER_MARKS:
            letters.append(char)
    return unicodedata.normalize("NFC", "".join(letters)) + tone


def marked_tokens(text: str) -> list[tuple[str, str]]:
    """The words of ``text`` as (folded token, form): ``tokens(text)`` with the spelling each was typed in.

    The form keeps the diacritics ("thì" and "thi" differ, "hoá" and "hóa" do
    not); a word typed without any equals its folded token.
    ``[t for t, _ in marked_tokens(x)] == tokens(x)`` for every text.
    """
    typed = unicodedata.normalize("NFC", text).lower()
    aligned = typed.translate(_ALIGNED_TABLE)
    folded = _ALIGNED_TOKEN.findall(aligned)
    words = _TYPED_TOKEN.findall(typed) if not typed.isascii() else folded
    if len(words) != len(folded) or len(aligned) != len(typed):  # not aligned: no spelling
        return [(token, token) for token in tokens(text)]
    result = []
    for piece, word in zip(folded, words):
        token = piece.replace("\0", "")
        if token.isdigit():
            token = token.lstrip("0") or "0"
            result.append((token, token))
        else:
            result.append((token, token if word.isascii() else _form(word)))
    return result


def clean_text(text: str) -> str:
    """NFC, no-break spaces and tabs to spaces, runs of spaces collapsed, trimmed.

    Keeps newlines (the records use them as paragraph breaks).
    """
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200e", "")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()
