"""What to search the knowledge base for when a message may name a procedure.

A citizen's message is rarely just a name: "Bố em mới mất. Giờ em muốn làm giấy
chứng tử cho bố, cần mang những giấy gì?" The knowledge search scores by how much
of the query a name covers, so the linker searches the whole message and each of
its sentences / clauses, in the canonical form (short forms expanded), without
the words that ask *about* a procedure (question_phrases.yml; the aspect anchors of
nlu/aspects.yml are made light in the search instead, `asking_words`). Words typed with
diacritics keep them: the search compares them by spelling, so "còn lệ phí thì
sao" does not name "nhận cha, mẹ, con" nor "thế" a card ("thẻ").
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Optional

import yaml

from knowledge import fold
from nlu.normalize import DOSSIER_TOKEN, PHONE_TOKEN, Lexicon, marked_words, normalize, replace_phrases

QUESTION_PHRASES_FILE = Path(__file__).resolve().parent / "question_phrases.yml"
ASPECTS_FILE = Path(__file__).resolve().parent / "aspects.yml"
# Sentence and clause breaks people type; the comma matters in long questions. A dot,
# comma or colon followed by a letter or digit is inside a code or number, not a break.
_CLAUSE_BREAK = re.compile(r"(?:[?!;\n()]|[.,:](?!\w))+")
_SPACES = re.compile(r"\s+")
# Sentence breaks: a story's sentences come before the one that asks.
_SENTENCE_BREAK = re.compile(r"(?:[?!;\n]|[.](?!\w))+")


class QuestionPhrases:
    """Phrases (canonical form) that ask about a procedure rather than name it."""

    def __init__(self, phrases: list[str]) -> None:
        self.phrases = sorted(set(phrases), key=lambda p: (-len(p), p))
        alternatives = "|".join(re.escape(p) for p in self.phrases + [DOSSIER_TOKEN, PHONE_TOKEN])
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    @classmethod
    def from_yaml(cls, path: Path, lexicon: Lexicon) -> QuestionPhrases:
        """Reads {group: [phrase, ...]}; raises ValueError on another shape."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise ValueError(f"{path}: expected groups of phrases, e.g. `fee: [mất bao nhiêu tiền]`")
        phrases = [normalize(str(p), lexicon) for group in raw.values() for p in group]
        return cls([p for p in phrases if p])

    def strip(self, canonical: str) -> str:
        return _SPACES.sub(" ", self._pattern.sub(" ", canonical)).strip()

    def strip_marked(self, words: list[tuple[str, str]]) -> str:
        """The marked words (folded, typed) without the question phrases, matched folded."""
        found = [(m.start(), m.end(), "") for m in self._pattern.finditer(" ".join(f for f, _ in words))]
        return " ".join(w for _, w in replace_phrases(words, lambda _: found, lambda _: []))


def asking_words(path: Path = ASPECTS_FILE) -> list[str]:
    """The aspect anchors of aspects.yml, weak ones too: words that ask about a part of a procedure
    ("trình tự thực hiện", "thành phần hồ sơ", "ở xã"), light in the linker's searches (they add to a
    name that has them and cost nothing to one that has not). Raises ValueError on another shape."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = [raw.get("anchors") or {}, raw.get("weak_anchors") or {}]
    if not all(isinstance(g, dict) and all(isinstance(v, list) for v in g.values()) for g in groups):
        raise ValueError(f"{path}: expected `anchors` and `weak_anchors` as {{aspect: [phrase, ...]}}")
    return [str(p) for group in groups for phrases in group.values() for p in phrases]


class TypedShortForms:
    """The lexicon's short forms, expanded only as typed: a short form typed without diacritics
    always, one typed with them only when the lexicon writes it so ("hông" is "không", "hồng" in
    "sổ hồng" is not; "đk" is "đăng ký"). Words typed with diacritics are evidence (còn ≠ con)."""

    def __init__(self, lexicon: Lexicon, written: set[str]) -> None:
        self._lexicon = lexicon
        self._written = frozenset(written)
        self._plain = Lexicon({})

    @classmethod
    def from_yaml(cls, path: Path, lexicon: Lexicon) -> TypedShortForms:
        """Reads {full form: [short form, ...]} (the lexicon's file); raises ValueError on another shape."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise ValueError(f"{path}: expected {{full form: [short form, ...]}}")
        return cls(lexicon, {_written(str(short)) for shorts in raw.values() for short in shorts})

    def words(self, text: str) -> list[tuple[str, str]]:
        """`marked_words` of the text, short forms expanded where typed as the lexicon writes them."""
        words = marked_words(text, self._plain)
        return replace_phrases(words, lambda folded: self._as_typed(words, folded),
                               lambda full: [(fold(x), x) for x in full.split()])

    def _as_typed(self, words: list[tuple[str, str]], folded: str) -> list[tuple[int, int, str]]:
        starts, offset = {}, 0
        for index, (f, _) in enumerate(words):
            starts[offset] = index
            offset += len(f) + 1
        kept = []
        for start, end, value in self._lexicon.spans(folded):
            first, last = starts.get(start), starts.get(end + 1, len(words))
            typed = words[first:last] if first is not None else []
            if all(f == w for f, w in typed) or " ".join(w for _, w in typed) in self._written:
                kept.append((start, end, value))
        return kept


def _written(short: str) -> str:
    return " ".join(re.sub(r"[^\w\s]+", " ", unicodedata.normalize("NFC", short).lower()).split())


def procedure_queries(
    text: str, lexicon: Lexicon, phrases: QuestionPhrases, shorts: Optional[TypedShortForms] = None
) -> list[str]:
    """The whole message, then (when it has several) each clause in order: canonical, question
    words dropped, empty and repeated queries left out. With `shorts`, a short form typed with
    diacritics is expanded only where the lexicon writes it so."""
    return [query for query, _ in story_queries(text, lexicon, phrases, shorts)]


def story_queries(
    text: str, lexicon: Lexicon, phrases: QuestionPhrases, shorts: Optional[TypedShortForms] = None
) -> list[tuple[str, int]]:
    """`procedure_queries`, each with the number of its sentence (0 for the first; the whole message
    gets the number of sentences), so the caller can tell the sentence that asks from the story before it."""
    sentences = [s for s in _SENTENCE_BREAK.split(text) if s.strip()]
    parts: list[tuple[str, int]] = [(text, len(sentences))]
    clauses = [(c, n) for n, sentence in enumerate(sentences) for c in _CLAUSE_BREAK.split(sentence) if c.strip()]
    if len(clauses) > 1:
        parts += clauses
    found: list[tuple[str, int]] = []
    for part, sentence in parts:
        words = shorts.words(part) if shorts is not None else marked_words(part, lexicon)
        query = phrases.strip_marked(words)
        if query and query not in [q for q, _ in found]:
            found.append((query, sentence))
    return found
