"""Text normalisation shared by the parser, the search index and the CLI."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "fold", "tokens"]


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


def clean_text(text: str) -> str:
    """NFC, no-break spaces and tabs to spaces, runs of spaces collapsed, trimmed.

    Keeps newlines (the records use them as paragraph breaks).
    """
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200e", "")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()
