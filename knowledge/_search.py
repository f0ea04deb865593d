"""Search over procedure names, curated aliases and result names.

Text is folded (no diacritics, lowercase), abbreviations are expanded and
filler words dropped on both sides, then an inverted index over syllables
finds the candidates and each one is scored in [0, 1]:

    score = query_coverage * (0.2 + 0.2 * order + 0.6 * name_coverage)

    query_coverage  IDF-weighted share of the query's words found in the
                    name (or alias): words the name lacks pull the score down
    order           share of the query's adjacent word pairs that are adjacent
                    in the name too ("khai sinh", not "sinh ... khai"); for a
                    one-word query, equal to name_coverage
    name_coverage   IDF-weighted share of the name's words the query contains:
                    a vague query ("đăng ký", "xe") covers little of any name

then x0.85 when the match is a result document name rather than the
procedure name or an alias, x0.95 per typo-corrected word, and +0.04 (capped
at 1) for procedures with a curated guide, so that the common procedure wins
a tie against an obscure variant.

1.0 means the query is exactly a name or an alias. ``CONFIDENT`` and
``AMBIGUOUS`` are the thresholds callers use (see `SearchHit.confidence`);
the gap between the first two hits tells apart look-alike variants.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import product
from typing import Iterable, Optional, Sequence

import numpy as np

from ._text import tokens as fold_tokens

__all__ = ["AMBIGUOUS", "CONFIDENT", "SearchIndex", "Vocabulary"]

# At or above: the query names this procedure (answer directly).
CONFIDENT = 0.75
# At or above (and below CONFIDENT): plausible, offer the top hits to choose from.
# Below: too weak, ask the user to say it differently.
AMBIGUOUS = 0.5

_BASE_WEIGHT, _ORDER_WEIGHT, _NAME_WEIGHT = 0.2, 0.2, 0.6
_RESULT_FACTOR = 0.85
_TYPO_FACTOR = 0.95
_CURATED_BONUS = 0.04
_MAX_VARIANTS = 8

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """Search words from data: abbreviations, colloquial synonyms, fillers.

    ``abbreviations`` replace the short form everywhere (query and names);
    ``synonyms`` add an alternative reading of the query only; ``fillers`` are
    dropped from both sides. Keys and values are folded token tuples.
    """

    abbreviations: dict[Phrase, Phrase]
    synonyms: dict[Phrase, tuple[Phrase, ...]]
    fillers: frozenset[Phrase]


class _PhraseTable:
    """Replace key phrases (longest first) in a word list, with one compiled regex."""

    def __init__(self, table: dict[Phrase, Phrase]) -> None:
        self._table = {" ".join(key): " ".join(value) for key, value in table.items() if key}
        keys = sorted(self._table, key=lambda key: (-len(key), key))
        alternatives = "|".join(re.escape(key) for key in keys) or "(?!)"
        self._pattern = re.compile(rf"(?<![0-9a-z])(?:{alternatives})(?![0-9a-z])")

    def apply(self, words: Sequence[str]) -> list[str]:
        text = self._pattern.sub(lambda match: self._table[match.group(0)], " ".join(words))
        return text.split()

    def find(self, words: Sequence[str], i: int) -> Optional[Phrase]:
        """The longest key starting at ``words[i]``, if any."""
        match = self._pattern.match(" ".join(words[i:]))
        return tuple(match.group(0).split()) if match else None


def _pairs(words: Sequence[str]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(words, words[1:]))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class SearchIndex:
    """Inverted index over name/alias/result entries; build once, query often.

    Scoring is vectorised with numpy over all entries that share a word with
    the query, so a query costs a few milliseconds over the whole catalog.
    The index pickles (the NLU model stores one).
    """

    def __init__(
        self,
        names: Iterable[tuple[str, str]],
        aliases: Iterable[tuple[str, str]],
        results: Iterable[tuple[str, str]],
        vocabulary: Vocabulary,
        curated: Iterable[str] = (),
    ) -> None:
        self._synonyms = vocabulary.synonyms
        self._synonym_keys = _PhraseTable({key: () for key in vocabulary.synonyms})
        self._abbreviations = _PhraseTable(vocabulary.abbreviations)
        self._fillers = _PhraseTable({phrase: () for phrase in vocabulary.fillers})
        curated = frozenset(curated)
        raw: list[tuple[str, str, str, list[str]]] = []
        for kind, source in (("name", names), ("alias", aliases), ("result", results)):
            for code, text in source:
                words = self._normalise(fold_tokens(text))
                if words:
                    raw.append((code, text, kind, words))
        document_frequency: dict[str, int] = defaultdict(int)
        for _, _, _, words in raw:
            for word in set(words):
                document_frequency[word] += 1
        total = len(raw)
        self._idf = {w: math.log(1 + total / df) for w, df in document_frequency.items()}
        self._unknown_idf = math.log(1 + total)
        self._codes = [code for code, _, _, _ in raw]
        self._texts = [text for _, text, _, _ in raw]
        postings: dict[str, list[int]] = defaultdict(list)
        pair_postings: dict[tuple[str, str], list[int]] = defaultdict(list)
        for entry_id, (_, _, _, words) in enumerate(raw):
            for word in set(words):
                postings[word].append(entry_id)
            for pair in _pairs(words):
                pair_postings[pair].append(entry_id)
        self._postings = {w: np.array(ids, dtype=np.int32) for w, ids in postings.items()}
        self._pair_postings = {p: np.array(ids, dtype=np.int32) for p, ids in pair_postings.items()}
        self._weights = np.array([sum(self._idf[w] for w in set(words)) for *_, words in raw], dtype=np.float64)
        self._factor = np.array([_RESULT_FACTOR if kind == "result" else 1.0 for _, _, kind, _ in raw])
        self._bonus = np.array([_CURATED_BONUS if code in curated else 0.0 for code, *_ in raw])
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        for word in self._idf:
            if len(word) >= 2:
                for variant in _deletes(word):
                    self._by_deletion[variant].add(word)

    def __len__(self) -> int:
        return len(self._codes)

    def _normalise(self, words: Sequence[str]) -> list[str]:
        return self._fillers.apply(self._abbreviations.apply(words))

    def _correct(self, word: str) -> Optional[str]:
        """A known word one typo away ("sinhf" -> "sinh", "ddang" -> "dang")."""
        if word in self._idf or len(word) < 3 or word.isdigit():
            return None
        candidates = set(self._by_deletion.get(word, ())) | {d for d in _deletes(word) if d in self._idf}
        for variant in _deletes(word):
            candidates |= self._by_deletion.get(variant, set())
        candidates = {c for c in candidates if c[0] == word[0]}
        if not candidates:
            return None
        return max(candidates, key=lambda c: (-self._idf[c], c))

    def _variants(self, query: str) -> list[tuple[list[str], int]]:
        """Readings of the query: as typed and with colloquial synonyms; (words, typos)."""
        words = self._abbreviations.apply(fold_tokens(query))
        segments: list[list[Phrase]] = []
        i = 0
        while i < len(words):
            key = self._synonym_keys.find(words, i)
            if key:
                segments.append([key, *self._synonyms[key]])
                i += len(key)
            else:
                segments.append([(words[i],)])
                i += 1
        variants: list[tuple[list[str], int]] = []
        for choice in product(*segments):
            readings = [w for phrase in choice for w in phrase]
            readings = self._normalise(readings)
            typos = 0
            corrected: list[str] = []
            for word in readings:
                fixed = self._correct(word)
                if fixed:
                    typos += 1
                corrected.append(fixed or word)
            unique = list(dict.fromkeys(corrected))
            if unique and all(unique != v for v, _ in variants):
                variants.append((unique, typos))
            if len(variants) >= _MAX_VARIANTS:
                break
        return variants

    def search(self, query: str, k: int = 5) -> list[tuple[str, float, str]]:
        """Best procedures for ``query``: (code, score, matched text), best first."""
        if k <= 0:
            return []
        best: dict[str, tuple[float, int]] = {}
        for words, typos in self._variants(query):
            scores = self._scores(words, typos)
            if scores is None:
                continue
            candidates = np.flatnonzero(scores)
            # Several entries (name, aliases, results) share a code: keep enough.
            keep = min(len(candidates), 8 * k + 40)
            top = candidates[np.argpartition(-scores[candidates], keep - 1)[:keep]] if keep < len(candidates) else candidates
            for entry_id in top.tolist():
                score = float(scores[entry_id])
                code = self._codes[entry_id]
                if score > best.get(code, (0.0, -1))[0]:
                    best[code] = (score, entry_id)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:k]
        return [(code, round(score, 4), self._texts[entry_id]) for code, (score, entry_id) in ranked]

    def _scores(self, words: list[str], typos: int) -> Optional[np.ndarray]:
        """Score of every entry for one reading of the query (0 where nothing matches)."""
        matched = np.zeros(len(self._codes))
        query_weight = 0.0
        for word in words:
            weight = self._idf.get(word, self._unknown_idf)
            query_weight += weight
            ids = self._postings.get(word)
            if ids is not None:
                matched[ids] += weight
        if not matched.any():
            return None
        query_coverage = matched / query_weight
        name_coverage = matched / self._weights
        pairs = _pairs(words)
        if pairs:
            in_order = np.zeros(len(self._codes))
            for pair in pairs:
                ids = self._pair_postings.get(pair)
                if ids is not None:
                    in_order[ids] += 1.0
            order = in_order / len(pairs)
        else:
            order = name_coverage
        scores = query_coverage * (_BASE_WEIGHT + _ORDER_WEIGHT * order + _NAME_WEIGHT * name_coverage)
        scores *= self._factor * (_TYPO_FACTOR**typos)
        scores = np.minimum(1.0, scores + self._bonus)
        scores[matched == 0] = 0.0
        return scores
