"""Dossier codes as printed on receipts (Circular 01/2018/TT-VPCP): agency-yymmdd-sequence.

Example: 000.00.19.H12-230815-0001 (agency code 000.00.19.H12, received 15/08/2023,
dossier 0001 of that day). People paste them with spaces or in lower case, and
sometimes type spaces instead of the dashes ("g22.28 250101 0012"), spaces or dots
for every separator ("000 00 24 H30 261105 0031", "000.00.24.h30.261105.0031") or the
letter O for a zero ("OOO.00.24.H3O-2611O5-0031"): `typed_dossier_codes` reads those
as the code meant (`meant_dossier_code`), which the status flow shows back for confirmation.
"""

from __future__ import annotations

import re
from datetime import date

# agency code: 1-5 dot-separated parts of letters/digits; date yymmdd; sequence 3-6 digits.
_CODE = re.compile(
    r"(?<![\w.-])(?P<agency>[A-Za-z0-9]{1,5}(?:\s*\.\s*[A-Za-z0-9]{1,5}){0,4})"
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


# Every separator a space, a dot or a dash (inside the agency code too: "000-00-19-H12-…"); a zero
# may be typed as the letter O. The agency is
# the national form (3 digits, 2, 2, a letter and 2 digits) or a short local one ("G22.28");
# the date must be a real month and day, so that numbers typed in groups are not read as codes.
_O = "[0-9Oo]"
_LOOSE = re.compile(
    rf"(?<![\w.-])(?P<agency>{_O}{{3}}[\s.-]+{_O}{{2}}[\s.-]+{_O}{{2}}[\s.-]+[A-Za-z]{_O}{{2}}"
    rf"|[A-Za-z]{_O}{{2}}(?:[\s.-]+{_O}{{2}})?)"
    rf"(?:\s*[-.]\s*|\s+)(?P<date>{_O}{{2}}(?:[0Oo][1-9]|1[0-2Oo])(?:[0Oo][1-9]|[12][0-9Oo]|3[01Oo]))"
    rf"(?:\s*[-.]\s*|\s+)(?P<seq>{_O}{{3,6}})(?![\w.-])"
)


def _zeros(part: str) -> str:
    return part.replace("O", "0").replace("o", "0")


def typed_dossier_codes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical code) for each code as people type it: well formed, or with spaces
    or dots for the separators, in lower case.

    A code with a letter O where a digit belongs is an attempt (find_code_attempts), not a code:
    the status flow says so and shows the code meant ("có chữ cái O").
    """
    found = find_dossier_codes(text)
    loose = [(start, end, code) for start, end, code in _loose(text) if code == _meant(code)]
    apart = set(_disjoint_from([(start, end) for start, end, _ in loose], [(start, end) for start, end, _ in found]))
    return sorted(found + [hit for hit in loose if hit[:2] in apart])


def _loose(text: str) -> list[tuple[int, int, str]]:
    """Codes with any separators, upper case, letters as typed."""
    out = []
    for m in _LOOSE.finditer(text):
        agency = ".".join(re.split(r"[\s.-]+", m.group("agency")))
        out.append((m.start(), m.end(), f"{agency}-{m.group('date')}-{m.group('seq')}".upper()))
    return out


def meant_dossier_code(typed: str) -> str | None:
    """The code a typed attempt means, each letter O where a digit belongs read as a zero; None if none."""
    codes = typed_dossier_codes(typed) or _loose(typed)
    return _meant(codes[0][2]) if codes else None


def _meant(code: str) -> str:
    """A code with each letter O that stands where a digit belongs read as a zero, upper case."""
    agency, day, sequence = code.rsplit("-", 2)
    parts = [p[0] + _zeros(p[1:]) if p[0].isalpha() and p[0] not in "Oo" else _zeros(p) for p in agency.split(".")]
    return f"{'.'.join(parts)}-{_zeros(day)}-{_zeros(sequence)}".upper()


def find_code_attempts(text: str) -> list[tuple[int, int]]:
    """(start, end) of each dossier code in the text, well formed or mistyped."""
    codes = [(start, end) for start, end, _ in typed_dossier_codes(text)]
    codes = sorted(codes + _disjoint_from([(start, end) for start, end, _ in _loose(text)], codes))
    return sorted(codes + _disjoint_from([(m.start(), m.end()) for m in _ATTEMPT.finditer(text)], codes))


def _disjoint_from(spans: list[tuple[int, int]], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans (in text order) that overlap no span of `taken` (sorted, disjoint): one pass over
    both, so a long text full of codes costs linear time (log masking runs this on every line)."""
    kept: list[tuple[int, int]] = []
    i = 0
    for start, end in spans:
        while i < len(taken) and taken[i][1] <= start:
            i += 1
        if i == len(taken) or taken[i][0] >= end:
            kept.append((start, end))
    return kept


def find_dossier_codes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical code) for each dossier code in the text."""
    found: list[tuple[int, int, str]] = []
    for pattern in (_CODE, _SPACED):
        matches = {m.span(): m for m in pattern.finditer(text)}
        for span in _disjoint_from(list(matches), [(start, end) for start, end, _ in found]):
            m = matches[span]
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
