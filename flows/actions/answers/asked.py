"""What a question about a part of a procedure turns on: is it a yes/no, and which line of the record decides it.

The words read here live in words.yml. A question is matched to a record's line by the words
they share that no other candidate line has (the words every line shares decide nothing).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from knowledge import fold
from nlu.normalize import load_lexicon, normalize

__all__ = [
    "canonical", "deciding", "focus", "is_yes_no", "plain_agency", "record_sentences", "short_step", "where_clause",
    "who_sentences", "words",
]

WORDS_FILE = Path(__file__).with_name("words.yml")
# Points a line must score against a question to decide it (see `deciding`).
DECIDING_POINTS = 2
# Share of the question's own words a two-point line must have.
COVERED = 0.4
# A record sentence longer than this is split at its "; " clauses to find the one that speaks.
SENTENCE_CHARS = 260
# A list mark a record line opens with: "- ", "+ ", "a) ", "(v) ", "2. ", "1.1. ".
_LIST_MARK = re.compile(r"^(?:[-+•*]\s*|\(?[a-zđ]\)\s+|\([ivx]{1,4}\)\s*|\d+(?:\.\d+)*[.)]\s+)+", re.I)
_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[-+•]?\s*[A-ZĐÀ-Ỹ])|\n+|\s+(?=[-+]\s)")


@lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    """words.yml, read once; a bad file fails with its path."""
    try:
        raw = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{WORDS_FILE}: cannot read the answers' words: {e}") from e
    for key in ("yes_no", "ignore", "who_markers", "step_filler", "step_plain", "agency_plain", "where_markers"):
        if not isinstance(raw.get(key), list):
            raise ValueError(f"{WORDS_FILE}: '{key}' must be a list")
    return raw


@lru_cache(maxsize=1)
def _who_pattern() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{w})" for w in words()["who_markers"]), re.I)


def canonical(text: str) -> str:
    """A question folded, short forms expanded ("dc ko" -> "duoc khong")."""
    return normalize(text, load_lexicon()) if text.strip() else ""


def is_yes_no(asked: str) -> bool:
    """True when the question wants a yes or a no ("ủy quyền được không", "có phải đi cả hai không")."""
    text = f" {canonical(asked)} "
    return any(f" {phrase} " in text for phrase in words()["yes_no"])


def record_sentences(lines: Iterable[str]) -> list[str]:
    """The record's lines in whole sentences, list marks removed."""
    out: list[str] = []
    for line in lines:
        for sentence in _SENTENCE.split(line or ""):
            sentence = _LIST_MARK.sub("", " ".join(sentence.split())).strip()
            clauses = sentence.split("; ") if len(sentence) > SENTENCE_CHARS else [sentence]
            out += [c.strip()[:1].upper() + c.strip()[1:] for c in clauses if len(c.strip()) > 20]
    return list(dict.fromkeys(out))


def who_sentences(procedure: Any) -> list[str]:
    """The record's sentences that say who does the procedure or may do it for someone.

    Duties first ("cha hoặc mẹ có trách nhiệm đăng ký"), then what the steps and conditions say
    of people, then the papers that prove who one is (a document row names a paper, not a person).
    """
    pattern = _who_pattern()
    papers = set(record_sentences(d.name for d in procedure.documents))
    texts = list(procedure.conditions) + list(procedure.steps) + [d.name for d in procedure.documents]
    found = [s for s in record_sentences(texts) if pattern.search(s)]
    return sorted(found, key=lambda s: (not re.search(r"trách nhiệm|có mặt", s, re.I), s in papers,
                                        s.lower().startswith(("trường hợp", "văn bản", "giấy tờ", "bản sao"))))


def _syllables(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


def deciding(items: list[str], asked: str, named: Iterable[str] = ()) -> str | None:
    """The line a question turns on, or None when no line shares enough of it.

    A line scores 1 for each pair of adjacent syllables of the question it has ("ông bà", "có mặt")
    and 0.5 for each single word; words of the procedure's name (`named`) and words that ask
    ("có", "được", "không") count for nothing. Two points decide when the line has at least
    `COVERED` of the question's own words, three points always: a word or two shared by chance
    ("hồ" of "hồ sơ" for "họ", "vợ chồng" in a list of relatives) never does.
    """
    items = list(dict.fromkeys(items))
    if not items or not asked.strip():
        return None
    void = set(words()["ignore"]) | set(named)
    question = _syllables(canonical(asked))
    singles = {w for w in question if w not in void}
    pairs = {(a, b) for a, b in zip(question, question[1:]) if a not in void or b not in void}
    scored = []
    for i, item in enumerate(items):
        own = _syllables(item)
        score = len(pairs & set(zip(own, own[1:]))) + 0.5 * len(singles & set(own))
        covered = len(singles & set(own)) / max(len(singles), 1)
        decides = score >= DECIDING_POINTS + 1 or (score >= DECIDING_POINTS and covered >= COVERED)
        scored.append((score if decides else 0.0, -i))
    best, index = max(scored)
    return items[-index] if best > 0 else None


def focus(line: str, asked: str, limit: int) -> str:
    """A long deciding line cut to its clause the question is about ("hai bên nam, nữ phải có mặt, …")."""
    if len(line) <= limit:
        return line
    question = set(canonical(asked).split()) - set(words()["ignore"])
    pieces = [p.strip(" ,") for p in re.split(r"[;()]|, (?=trường hợp|nếu|thì)", line) if len(p.strip(" ,")) >= 30]
    best = max(pieces, key=lambda p: len(set(re.findall(r"\w+", fold(p))) & question), default="")
    if not best or len(best) > limit:
        return ""
    return f"«…{best}…»" if best != line else line


@lru_cache(maxsize=1)
def _step_rules() -> tuple[list[tuple[re.Pattern[str], str]], re.Pattern[str]]:
    plain = [(re.compile(p, re.I), r) for p, r in words()["step_plain"]]
    filler = re.compile("|".join(f"(?:{f})" for f in words()["step_filler"]), re.I)
    return plain, filler


def short_step(step: str) -> str:
    """A step of the record in plain, short words: its usual phrasings said plainly, legal filler left out."""
    plain, filler = _step_rules()
    text = filler.sub("", " ".join(step.split()))  # brackets first: "(sau đây gọi tắt là …)" hides the subject
    for pattern, replacement in plain:
        text = pattern.sub(replacement, text, count=1)
    text = filler.sub("", text)
    text = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ,;")
    return text[:1].upper() + text[1:]


def plain_agency(agency: str) -> str:
    """An agency in the words people know it by ("Công an cấp Xã" -> "Công an xã, phường")."""
    for pattern, replacement in words()["agency_plain"]:
        agency = re.sub(pattern, replacement, agency)
    return agency.strip(" .;")


def where_clause(procedure: Any) -> str:
    """The record's words on the place one applies in ("… nơi thường trú, tạm trú …"), or ""."""
    pattern = re.compile("|".join(f"(?:{w})" for w in words()["where_markers"]), re.I)
    texts = list(procedure.steps) + [d.name for d in procedure.documents] + list(procedure.conditions)
    for sentence in record_sentences(texts):
        found = pattern.search(sentence)
        if found:
            return found.group(0).strip(" ,;.")
    return ""
