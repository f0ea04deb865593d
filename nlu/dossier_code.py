"""Dossier codes as printed on receipts (Circular 01/2018/TT-VPCP): agency-yymmdd-sequence.

Example: 000.00.19.H12-230815-0001 (agency code 000.00.19.H12, received 15/08/2023,
dossier 0001 of that day). People paste them with spaces or in lower case, and
sometimes type spaces instead of the dashes ("g22.28 250101 0012").
"""

from __future__ import annotations

import re
from datetime import date
from typing import Iterator

# agency code: 1-5 dot-separated parts of letters/digits; date yymmdd; sequence 3-6 digits.
_CODE = re.compile(
    r"(?<![\w.])(?P<agency>[A-Za-z0-9]{1,5}(?:\s*\.\s*[A-Za-z0-9]{1,5}){0,4})"
    r"\s*-\s*(?P<date>\d{6})\s*-\s*(?P<seq>\d{3,6})(?!\w)"
)
# Spaces instead of dashes: only with a dotted agency code and a plausible date, so
# that phone and ID numbers typed in groups ("0912 345 678") are not read as codes.
_SPACED = re.compile(
    r"(?<![\w.])(?P<agency>[A-Za-z0-9]{1,5}(?:\.[A-Za-z0-9]{1,5}){1,4})"
    r"\s+(?P<date>\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\s+(?P<seq>\d{3,6})(?![\w.-])"
)


# A code as people mistype it (a letter O for a zero, a part too long or short, a dash missing):
# "000.00.19.H12-261O16-0012", "H12-26102O-0007", "000.00.19 h12 261020 0007". To the classifier it
# is still a code, not digits that read like a rating; the dossier_status flow says what is wrong.
_ATTEMPT = re.compile(
    r"(?<![\w.])(?:\d{3}\s*[.,]\s*\d{2}\s*[.,]\s*\d{2}|[a-z]\d{2}\s*-\s*\w{5,}|\w{6}\s*-\s*\d{3,})"
    r"[\w.,-]*(?:\s+(?=\S*\d)[\w.,-]+)*",
    re.IGNORECASE,
)


def find_code_attempts(text: str) -> list[tuple[int, int]]:
    """(start, end) of each dossier code in the text, well formed or mistyped."""
    codes = [(start, end) for start, end, _ in find_dossier_codes(text)]
    attempts = [(m.start(), m.end()) for m in _not_overlapping(_ATTEMPT.finditer(text), codes)]
    return sorted(codes + attempts)


def _not_overlapping(matches: Iterator[re.Match[str]], taken: list[tuple[int, int]]) -> list[re.Match[str]]:
    """The matches (in text order) that overlap no span of `taken` (sorted, disjoint): one pass over
    both, so a long text full of codes costs linear time (log masking runs this on every line)."""
    kept: list[re.Match[str]] = []
    i = 0
    for m in matches:
        while i < len(taken) and taken[i][1] <= m.start():
            i += 1
        if i == len(taken) or taken[i][0] >= m.end():
            kept.append(m)
    return kept


def find_dossier_codes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical code) for each dossier code in the text."""
    found: list[tuple[int, int, str]] = []
    for pattern in (_CODE, _SPACED):
        for m in _not_overlapping(pattern.finditer(text), [(start, end) for start, end, _ in found]):
            agency = re.sub(r"\s+", "", m.group("agency")).upper()
            if any(c.isdigit() for c in agency):
                found.append((m.start(), m.end(), f"{agency}-{m.group('date')}-{m.group('seq')}"))
        found.sort()
    return found


def canonical_dossier_code(text: str) -> str | None:
    """The one dossier code in a text, canonical (upper case, no spaces), or None."""
    codes = find_dossier_codes(text)
    return codes[0][2] if codes else None


def received_on(code: str) -> date | None:
    """The date encoded in a canonical code, or None when it is not a real date."""
    m = _CODE.fullmatch(code)
    if not m:
        return None
    raw = m.group("date")
    try:
        return date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:6]))
    except ValueError:
        return None
