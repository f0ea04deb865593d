"""Search over procedure names, curated aliases and result names.

Every text is split into words that keep the spelling they were typed in
(`marked_tokens`); abbreviations are expanded and filler words dropped on
both sides, then an inverted index over folded syllables finds the
candidates and each one is scored in [0, 1]:

    score = query_coverage * (0.2 + 0.2 * order + 0.6 * name_coverage)

    query_coverage  IDF-weighted share of the query's naming words found in
                    the name (or alias). A missing word counts fully when a
                    close candidate has it ("đăng ký lại khai sinh" is not the
                    base record), half (`_DILUTION`) when none has it: it is
                    the user's own situation ("nhà em vừa có em bé muốn đăng
                    ký khai sinh"), not a variant
    order           share of the query words found in the name that stand
                    next to each other there too ("khai sinh", not
                    "sinh ... khai"); for one word, equal to name_coverage
    name_coverage   IDF-weighted share of the name's words the query contains:
                    a vague query ("đăng ký", "xe") covers little of any name

then x0.85 when the match is a result document name rather than the
procedure name or an alias, x0.95 per typo-corrected word, and +0.04 (capped
at 1) for procedures with a curated guide, so that the common procedure wins
a tie against an obscure variant.

Words play one of three parts in a query:

- fillers (fillers.yml `fillers`: "cho tôi hỏi", "mất mấy ngày", "thì",
  "vậy") are dropped, here and from names;
- light words: question words and greetings (fillers.yml `generic`: "kết
  quả", "thời gian", "chào") and fillers typed without diacritics that some
  name spells otherwise ("thi": "thì" or "dự thi"; "vay": "vậy" or "cho vay")
  add to name_coverage where the name has them, cost nothing where it has
  not, and never make a match on their own: a message of light words and
  fillers only finds nothing. An uncertain filler standing next to a word it
  goes with in names ("can cuoc", "thi thuc") names the procedure instead;
- every other word names the procedure; the words of an act (acts.yml: what is
  done to a document, "chứng thực bản sao", "cấp lại", "đổi") weigh up to
  `_ACT_RISE` times their IDF, as much as the other words together, and are
  never question words ("sao" asks, "bản sao" is an act): "công chứng bản
  sao căn cước" asks for a certified copy, not the rarer word's card.

Typed with diacritics, a word matches a name word of the same spelling fully
and one that differs only in its marks at `_FOLDED_ONLY` ("kết hơn" is not
"kết hôn"); a word typed without marks matches every spelling.

Calibration (`link_decision`, `CONFIDENT`, `MARGIN`, `MENTIONED`): 1.0 is
exactly a name or alias, also wrapped in filler and question words; the
common name of a procedure is ahead of its variants by more than MARGIN
("đăng ký kết hôn": 1.0, "đăng ký lại kết hôn" 0.83).

Look-alikes the words cannot tell apart (`_common_case`): when the hits within
MARGIN of the best all have the same words of the query and are variants of one
procedure (`look_alike`: one name at several levels, "lại", "dưới 14 tuổi"), the
common case (the guided one, else the best) leads and the others stay MARGIN
behind, one tap away in the flows; two guided ones the words fit as well, or the
same words fitting different procedures ("đăng ký"), still ask.

Linking a whole message (`Linking`, the NLU's ProcedureLinker): the words that
ask about a part (nlu/aspects.yml anchors) are light; a word no close candidate
has counts at `Linking.dilution`, more the less of a name the message has; the
close candidates are those the message mentions nearly as well as the best one,
so a name mentioned inside a long story scores close to the name alone.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice, product
from operator import itemgetter
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from ._names import base_name
from ._text import marked_tokens

__all__ = [
    "AMBIGUOUS", "CONFIDENT", "EXACT", "MARGIN", "MENTIONED", "LightWords", "Linking", "SearchIndex", "Vocabulary",
    "link_decision",
]

# At or above, and ahead of the runner-up by MARGIN: the query names this procedure.
CONFIDENT = 0.55
# Ahead of the runner-up by at least this much for a confident answer; closer
# hits are look-alike records the user chooses between.
MARGIN = 0.08
# At or above (and not confident): plausible, offer the top hits to choose from.
# Below: the message names no procedure.
MENTIONED = 0.4
# Former name of MENTIONED.
AMBIGUOUS = MENTIONED
# At or above: the query is exactly a name or alias (with filler words): confident
# without a margin, unless the runner-up is exact too (same name, other level).
EXACT = 0.999

_BASE_WEIGHT, _ORDER_WEIGHT, _NAME_WEIGHT = 0.2, 0.2, 0.6
_RESULT_FACTOR = 0.85
_TYPO_FACTOR = 0.95
_CURATED_BONUS = 0.04
_MAX_VARIANTS = 8
# At most this many synonym choices are tried per query (each one a reading built
# and checked in time linear in the query): a bound on the work, whatever the text.
_MAX_COMBINATIONS = 64
# A query word that none of the best candidates has weighs this much of its
# IDF in query_coverage where it is missing.
_DILUTION = 0.5
# Share of the names with the rarer of two words where they stand together, for
# an uncertain filler to count as a word of a name ("can cuoc", "thi thuc").
_TOGETHER = 0.05
# Entries scoring at least this share of the best one are the candidates that
# decide which query words tell procedures apart.
_CANDIDATE_SHARE = 0.5
# An act's words weigh at most this many times their IDF to match the document they are done to.
_ACT_RISE = 2.0
# How much a word typed with diacritics counts where the name spells it differently.
_FOLDED_ONLY = 0.35
# How many of the best hits the common-case rule looks at (whatever k the caller asks).
_FAMILY_SIZE = 8
# Share of the lighter official name's (IDF-weighted) words two names have in common to be variants of one.
LOOK_ALIKE = 0.75

Phrase = tuple[str, ...]
_first, _second = itemgetter(0), itemgetter(1)
# A word: its folded token and how it was spelled (None: unknown, any spelling).
Word = tuple[str, Optional[str]]
# A phrase from a data file: (folded token, spelling) per word.
Spelled = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Vocabulary:
    """Search words from data: abbreviations, colloquial synonyms, fillers, question words.

    ``abbreviations`` replace the short form everywhere (query and names);
    ``synonyms`` add an alternative reading of the query only; ``fillers`` are
    dropped from both sides; ``generic`` question words are kept but never
    name a procedure alone. Abbreviation and synonym keys are folded token
    tuples; what they stand for, fillers and question words keep their spelling.
    """

    abbreviations: dict[Phrase, Spelled]
    synonyms: dict[Phrase, tuple[Spelled, ...]]
    fillers: frozenset[Spelled]
    generic: frozenset[Spelled] = frozenset()
    acts: frozenset[Spelled] = frozenset()
    signals: dict[Phrase, Spelled] = field(default_factory=dict)


def link_decision(scores: Sequence[float]) -> str:
    """What ranked hit scores (best first) say about the message.

    "confident": the best hit is the procedure meant (at least CONFIDENT and
    MARGIN ahead of the runner-up, or exactly its name); "ambiguous": offer the
    hits to choose from (best at least MENTIONED); "weak": no procedure named.
    """
    if not scores or scores[0] < MENTIONED:
        return "weak"
    best, runner_up = scores[0], (scores[1] if len(scores) > 1 else 0.0)
    if best >= CONFIDENT and best - runner_up >= MARGIN - 1e-9 or best >= EXACT > runner_up:
        return "confident"
    return "ambiguous"


def _lengths_by_first_word(phrases: Iterable[Phrase]) -> dict[str, tuple[int, ...]]:
    """For each first word, the lengths of the phrases it starts, longest first."""
    lengths: dict[str, set[int]] = defaultdict(set)
    for phrase in phrases:
        lengths[phrase[0]].add(len(phrase))
    return {word: tuple(sorted(ns, reverse=True)) for word, ns in lengths.items()}


def _as_typed(phrase: Spelled) -> list[Word]:
    """Words from a data file as if typed: a word written without diacritics may have any spelling."""
    return [(token, None if form == token else form) for token, form in phrase]


class _Replacements:
    """Replace folded key phrases (longest first) in a word list with what they stand for."""

    def __init__(self, table: dict[Phrase, Spelled]) -> None:
        self._table = {key: value for key, value in table.items() if key}
        self._lengths = _lengths_by_first_word(self._table)

    def find(self, words: Sequence[Word], i: int) -> Optional[Phrase]:
        """The longest key starting at ``words[i]``, if any."""
        for n in self._lengths.get(words[i][0], ()):
            key = tuple(map(_first, words[i : i + n]))
            if len(key) == n and key in self._table:
                return key
        return None

    def apply_marked(self, words: Sequence[Word]) -> tuple[list[Word], frozenset[str]]:
        """The words replaced, and the tokens that only a replacement put there."""
        result: list[Word] = []
        put: set[str] = set()
        kept: set[str] = set()
        i = 0
        while i < len(words):
            key = self.find(words, i)
            if key is None:
                result.append(words[i])
                kept.add(words[i][0])
                i += 1
            else:
                result += _as_typed(self._table[key])
                put.update(t for t, _ in self._table[key])
                i += len(key)
        return result, frozenset(put - kept)

    def apply(self, words: Sequence[Word]) -> list[Word]:
        result: list[Word] = []
        i = 0
        while i < len(words):
            key = self.find(words, i)
            if key is None:
                result.append(words[i])
                i += 1
            else:
                result += _as_typed(self._table[key])
                i += len(key)
        return result


class _SpelledPhrases:
    """Phrases matched with their spelling (fillers, question words).

    A phrase matches where the folded words are the same and every word whose
    spelling is known is spelled as in the file. A match is uncertain when some
    spelling is unknown and the folded phrase also occurs in a name spelled
    otherwise ("thi": "thì" or "dự thi").
    """

    def __init__(self, phrases: Iterable[Spelled]) -> None:
        self._spellings: dict[Phrase, set[Phrase]] = defaultdict(set)
        for phrase in phrases:
            if phrase:
                self._spellings[tuple(t for t, _ in phrase)].add(tuple(f for _, f in phrase))
        self._lengths = _lengths_by_first_word(self._spellings)
        self._ambiguous: set[Phrase] = set()

    def learn(self, names: Iterable[Sequence[Word]]) -> None:
        """Mark the phrases some name spells otherwise (ambiguous when typed without marks)."""
        for words in names:
            for i in range(len(words)):
                for n in self._lengths.get(words[i][0], ()):
                    key = tuple(map(_first, words[i : i + n]))
                    spellings = self._spellings.get(key) if len(key) == n else None
                    spelled = tuple(map(_second, words[i : i + n]))
                    if spellings and None not in spelled and spelled not in spellings:
                        self._ambiguous.add(key)

    def find(self, words: Sequence[Word], i: int) -> Optional[tuple[int, bool]]:
        """The longest phrase starting at ``words[i]``: (length, certain), if any."""
        for n in self._lengths.get(words[i][0], ()):
            key = tuple(map(_first, words[i : i + n]))
            spellings = self._spellings.get(key) if len(key) == n else None
            if not spellings:
                continue
            typed = tuple(map(_second, words[i : i + n]))
            if any(all(t is None or t == s for t, s in zip(typed, spelling)) for spelling in spellings):
                return n, key not in self._ambiguous or all(t is not None for t in typed)
        return None

    def positions(self, words: Sequence[Word]) -> set[int]:
        """Indices of the words that are part of one of the phrases (longest match first)."""
        found: set[int] = set()
        i = 0
        while i < len(words):
            match = self.find(words, i)
            length = match[0] if match else 1
            if match:
                found.update(range(i, i + length))
            i += length
        return found


class LightWords(_SpelledPhrases):
    """Phrases a caller makes light for its searches: the words that ask about a part of a
    procedure ("trình tự thực hiện", "thành phần hồ sơ") and formal openers ("đề nghị cho biết").

    Like the question words of fillers.yml `generic`: they add to a name that has them, cost
    nothing where it has not, and never make a match on their own. Matched by spelling as typed.
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        super().__init__(tuple(marked_tokens(p)) for p in phrases)



@dataclass(frozen=True)
class Linking:
    """How the linker searches a whole message (`SearchIndex.search`).

    ``light``: the words that ask about a procedure, cost nothing where a name lacks them;
    ``dilution``: how much a word no close candidate has counts against a name that lacks it;
    ``close_share``: close candidates score at least this share of the best with every missing
    word diluted, so a long story's stray words do not count against the name it mentions;
    ``sliver``: the dilution rises towards 1 as (1 - the share of the name the message has) to
    this power: a message that has only a sliver of a name ("xe máy" of "kiểm định khí thải xe
    mô tô, xe gắn máy") does not mention it.
    """

    light: Optional[LightWords] = None
    dilution: float = 0.3
    close_share: float = 0.9
    sliver: float = 2.0


@dataclass(frozen=True)
class _Reading:
    """One reading of a query, scored strictly (every missing naming word counts fully)."""

    naming_words: list[tuple[float, np.ndarray]]  # (IDF, match strength per entry)
    tokens: list[str]  # the naming words, in the order of naming_words
    acts: list[bool]  # per naming word: part of an act ("chứng thực", "cấp lại")
    said: list[bool]  # per naming word: put there by a signal ("hàn quốc": "có yếu tố nước ngoài")
    name_coverage: np.ndarray  # share of each entry's words the query has
    query_weight: float  # IDF of all naming words
    query_matched: np.ndarray  # IDF of the naming words each entry has
    shape: np.ndarray  # the bracket of the score formula; 0 where no naming word matches
    strict: np.ndarray


def _pairs(words: Sequence[str]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(words, words[1:]))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _is_marked(words: Sequence[tuple[str, str]]) -> bool:
    return any(form != token for token, form in words)


class SearchIndex:
    """Inverted index over name/alias/result entries; build once, query often.

    Scoring is vectorised with numpy over all entries that share a word with
    the query, so a query costs a few milliseconds over the whole catalog.
    The index pickles (the NLU model stores one); one process holds one index
    per knowledge version, shared by the knowledge base and the model
    (`share_index`), whichever of them loads first.
    """

    # Raise when the index's structure or scoring changes: a model's stored index of another
    # version is then not shared (and `make` retrains the model anyway).
    VERSION = 3

    def __init__(
        self,
        names: Iterable[tuple[str, str]],
        aliases: Iterable[tuple[str, str]],
        results: Iterable[tuple[str, str]],
        vocabulary: Vocabulary,
        curated: Iterable[str] = (),
    ) -> None:
        self._synonyms = _Replacements({key: () for key in vocabulary.synonyms})
        self._synonym_readings = vocabulary.synonyms
        self._abbreviations = _Replacements(vocabulary.abbreviations)
        self._fillers = _SpelledPhrases(vocabulary.fillers)
        self._generic = _SpelledPhrases(vocabulary.generic)
        self._acts = _SpelledPhrases(vocabulary.acts)
        self._signals = _Replacements(vocabulary.signals)
        curated = frozenset(curated)

        typed: list[tuple[str, str, str, list[Word], bool]] = []
        for kind, source in (("name", names), ("alias", aliases), ("result", results)):
            for code, text in source:
                spelled = marked_tokens(text)
                words = self._abbreviations.apply(spelled)
                typed.append((code, text, kind, words, _is_marked(spelled)))
        marked_names = [words for _, _, _, words, marked in typed if marked]
        self._fillers.learn(marked_names)
        # A word of an alias written without marks takes the one spelling the
        # catalog has for it, if only one.
        spellings: dict[str, set[Optional[str]]] = defaultdict(set)
        for words in marked_names:
            for token, form in words:
                spellings[token].add(form)
        raw: list[tuple[str, str, str, list[Word]]] = []
        seen: set[tuple[str, str, tuple[str, ...]]] = set()
        for marked_first in (True, False):
            for code, text, kind, words, marked in typed:
                if marked != marked_first:
                    continue
                key = (code, kind, tuple(t for t, _ in words))
                # "lam giay khai sinh" beside "làm giấy khai sinh" adds nothing but a spelling-blind twin.
                if key in seen:
                    continue
                seen.add(key)
                if not marked:
                    words = [(t, next(iter(spellings[t])) if len(spellings[t]) == 1 else None) for t, _ in words]
                # A name written without diacritics cannot tell "cho" from "chợ": all fillers go.
                words = self._drop_fillers(words, uncertain_too=not marked)
                if words:
                    raw.append((code, text, kind, words))
        raw.sort(key=lambda entry: ({"name": 0, "alias": 1, "result": 2}[entry[2]], entry[0]))

        document_frequency: dict[str, int] = defaultdict(int)
        for *_, words in raw:
            for token in {t for t, _ in words}:
                document_frequency[token] += 1
        total = len(raw)
        self._idf = {w: math.log(1 + total / df) for w, df in document_frequency.items()}
        self._unknown_idf = math.log(1 + total)
        self._codes = [code for code, *_ in raw]
        self._name_words = {code: frozenset(t for t, _ in marked_tokens(base_name(text)))
                            for code, text, kind, _ in raw if kind == "name"}
        self._texts = [text for _, text, *_ in raw]
        postings: dict[str, set[int]] = defaultdict(set)
        any_spelling: dict[str, set[int]] = defaultdict(set)
        spelled_as: dict[tuple[str, str], set[int]] = defaultdict(set)
        pair_postings: dict[tuple[str, str], set[int]] = defaultdict(set)
        for entry_id, (*_, words) in enumerate(raw):
            for token, form in words:
                postings[token].add(entry_id)
                if form is None:
                    any_spelling[token].add(entry_id)
                else:
                    spelled_as[(token, form)].add(entry_id)
            for pair in _pairs([t for t, _ in words]):
                pair_postings[pair].add(entry_id)

        def array(ids: set[int]) -> np.ndarray:
            return np.array(sorted(ids), dtype=np.int32)

        self._postings = {w: array(ids) for w, ids in postings.items()}
        self._any_spelling = {w: array(ids) for w, ids in any_spelling.items()}
        self._spelled_as = {key: array(ids | any_spelling.get(key[0], set())) for key, ids in spelled_as.items()}
        self._pair_postings = {p: array(ids) for p, ids in pair_postings.items()}
        self._weights = np.array([sum(self._idf[w] for w in {t for t, _ in words}) for *_, words in raw])
        self._factor = np.array([_RESULT_FACTOR if kind == "result" else 1.0 for _, _, kind, _ in raw])
        self._bonus = np.array([_CURATED_BONUS if code in curated else 0.0 for code, *_ in raw])
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        for word in self._idf:
            if len(word) >= 2:
                for variant in _deletes(word):
                    self._by_deletion[variant].add(word)

    def __len__(self) -> int:
        return len(self._codes)

    def weight(self, word: str) -> float:
        """How much a folded word tells names apart (its IDF over the entries; rare words weigh most)."""
        return self._idf.get(word, self._unknown_idf)

    def look_alike(self, code: str, other: str) -> bool:
        """Whether two procedures are variants of one: their official names (without brackets) share
        at least `LOOK_ALIKE` of the lighter name's words, weighed by `weight` ("đăng ký lại khai
        sinh", "cấp thẻ căn cước cho người dưới 14 tuổi", one name at two levels); "đăng ký kết hôn"
        and "đăng ký khai sinh kết hợp …" share only common words."""
        own, theirs = self._name_words.get(code), self._name_words.get(other)
        if not own or not theirs or code == other:
            return False
        lighter = min(sum(map(self.weight, own)), sum(map(self.weight, theirs)))
        return sum(map(self.weight, own & theirs)) >= LOOK_ALIKE * lighter

    def said(self, query: str) -> frozenset[str]:
        """The words that signals.yml reads into ``query`` ("hàn quốc": có yếu tố nước ngoài), folded."""
        typed: list[Word] = [(t, None if form == t else form) for t, form in marked_tokens(query)]
        return self._signals.apply_marked(self._abbreviations.apply(typed))[1]

    def variant_said(self, code: str, other: str, said: frozenset[str]) -> bool:
        """Whether ``other`` is ``code``'s name with words that ``said`` holds ("đăng ký kết hôn" and
        "… có yếu tố nước ngoài" for a message that says "hàn quốc")."""
        own, theirs = self._name_words.get(code), self._name_words.get(other)
        return bool(own and theirs and own < theirs and said & (theirs - own))

    def _drop_fillers(self, words: Sequence[Word], uncertain_too: bool = False) -> list[Word]:
        """Words without fillers; uncertain ones ("thi": "thì" or "dự thi") stay unless ``uncertain_too``."""
        return [words[i] for i in self._kept(words, uncertain_too)]

    def _kept(self, words: Sequence[Word], uncertain_too: bool = False) -> list[int]:
        """Indices of the words that are not fillers (see `_drop_fillers`)."""
        kept: list[int] = []
        i = 0
        while i < len(words):
            found = self._fillers.find(words, i)
            if found is None:
                kept.append(i)
                i += 1
                continue
            length, certain = found
            if not certain and not uncertain_too:
                kept += range(i, i + length)
            i += length
        return kept

    def _roles(self, words: Sequence[Word]) -> list[tuple[str, Optional[str], bool]]:
        """(token, spelling, soft) for the words a query keeps; soft words weigh little.

        An uncertain filler ("thi", "can") is a word of a name when it stands
        next to a word it goes with in some name ("du thi", "can cuoc").
        """
        filler = [False] * len(words)
        i = 0
        while i < len(words):
            found = self._fillers.find(words, i)
            length = found[0] if found else 1
            filler[i : i + length] = [bool(found)] * length
            i += length
        tokens = [token for token, _ in words]
        soft = list(filler)
        for j in range(len(words)):
            if filler[j] and any(
                0 <= a and b < len(words) and not filler[a if a != j else b] and self._go_together(tokens[a], tokens[b])
                for a, b in ((j - 1, j), (j, j + 1))
            ):
                soft[j] = False
        i = 0
        while i < len(words):
            found = self._generic.find(words, i)
            length = found[0] if found else 1
            if found:
                soft[i : i + length] = [True] * length
            i += length
        return [(token, form, is_soft) for (token, form), is_soft in zip(words, soft)]

    def _go_together(self, first: str, second: str) -> bool:
        """Whether the two words stand together in a fair share of the names that have the rarer one."""
        together = self._pair_postings.get((first, second))
        if together is None:
            return False
        rarer = min(len(self._postings[first]), len(self._postings[second]))
        return len(together) >= _TOGETHER * rarer

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

    def work(self, query: str, light: Optional[LightWords] = None) -> dict[str, int]:
        """What searching ``query`` takes: its words, distinct synonym phrases, synonym choices tried, readings kept.

        For tests and bench/search_cost.py: the bound on a query's work is asserted on these counts, not on time.
        """
        tally: dict[str, int] = {}
        self._variants(query, tally, light)
        return tally

    def _variants(
        self, query: str, tally: Optional[dict[str, int]] = None, light: Optional[LightWords] = None
    ) -> list[tuple[list[tuple[str, Optional[str], bool]], int, frozenset[str], frozenset[str]]]:
        """Readings of the query: as typed and with colloquial synonyms; (words, typos, act words,
        words only a signal says).

        Every distinct synonym phrase is one choice (as typed, or one of its
        readings) made for all its occurrences at once: "cưới cưới cưới" reads
        as typed or as "kết hôn", not in the 2**3 ways that say the same. The
        choices are tried in order, at most `_MAX_COMBINATIONS` of them, until
        `_MAX_VARIANTS` distinct readings are found, and a word's typo
        correction is worked out once, so the cost grows with the query's
        length, never with the number of ways to read it.
        """
        # Words typed without marks may have any spelling.
        typed: list[Word] = [(t, None if form == t else form) for t, form in marked_tokens(query)]
        # Everyday words that say a variant's words ("lấy chồng Hàn Quốc") read as them.
        words, said = self._signals.apply_marked(self._abbreviations.apply(typed))
        # The query as pieces: a plain word (key None) or a synonym phrase as typed.
        pieces: list[tuple[Optional[Phrase], list[Word]]] = []
        choices: dict[Phrase, list[list[Word]]] = {}  # synonym phrase -> its readings, first seen first
        i = 0
        while i < len(words):
            key = self._synonyms.find(words, i)
            if key:
                pieces.append((key, list(words[i : i + len(key)])))
                if key not in choices:
                    choices[key] = [_as_typed(reading) for reading in self._synonym_readings[key]]
                i += len(key)
            else:
                pieces.append((None, [words[i]]))
                i += 1
        slot = {key: n for n, key in enumerate(choices)}
        corrections: dict[str, Optional[str]] = {}
        variants: list[tuple[list[tuple[str, Optional[str], bool]], int, frozenset[str], frozenset[str]]] = []
        options = [range(1 + len(readings)) for readings in choices.values()]
        tried = 0
        for choice in islice(product(*options), _MAX_COMBINATIONS):
            tried += 1
            chosen: list[Word] = []
            for key, phrase in pieces:
                picked = 0 if key is None else choice[slot[key]]
                chosen += choices[key][picked - 1] if key is not None and picked else phrase
            kept = self._kept(chosen)
            reading = [chosen[i] for i in kept]
            lit = light.positions(chosen) if light is not None else set()
            acting = self._acts.positions(chosen)
            typos = 0
            corrected: dict[str, tuple[Optional[str], bool]] = {}
            for i, (token, form, soft) in zip(kept, self._roles(reading)):
                soft = (soft or i in lit) and i not in acting  # "sao" asks, "bản sao" is an act
                if token not in corrections:
                    corrections[token] = self._correct(token)
                fixed = corrections[token]
                if fixed:
                    typos += 1
                    token, form = fixed, None
                if token in corrected:  # a repeated word counts once, as its strongest part
                    before_form, before_soft = corrected[token]
                    corrected[token] = (before_form or form, before_soft and soft)
                else:
                    corrected[token] = (form, soft)
            unique = [(token, form, soft) for token, (form, soft) in corrected.items()]
            if any(not soft for _, _, soft in unique) and all(unique != v for v, *_ in variants):
                variants.append((unique, typos, frozenset(chosen[i][0] for i in acting), said))
            if len(variants) >= _MAX_VARIANTS:
                break
        if tally is not None:
            tally.update(words=len(words), synonyms=len(choices), combinations=tried, readings=len(variants))
        return variants

    def search(
        self, query: str, k: int = 5, linking: Optional[Linking] = None
    ) -> list[tuple[str, float, str]]:
        """Best procedures for ``query``: (code, score, matched text), best first.

        With ``linking`` (a whole message, not a query typed into a search box): its light
        words cost nothing, and a name mentioned inside the message scores close to the name
        alone (see `Linking`).
        """
        if k <= 0:
            return []
        light = linking.light if linking is not None else None
        dilution = linking.dilution if linking is not None else _DILUTION
        # Readings share most words: each word's matches are worked out once.
        matches: dict[tuple[str, Optional[str]], tuple[np.ndarray, np.ndarray]] = {}
        readings = [r for words, typos, acts, said in self._variants(query, light=light)
                    if (r := self._reading(words, typos, matches, acts, said)) is not None]
        if not readings:
            return []
        close = self._close(readings, linking)
        best: dict[str, tuple[float, int, int]] = {}
        for number, reading in enumerate(readings):
            scores = self._scores(reading, close, dilution, linking=linking)
            candidates = np.flatnonzero(scores)
            # Several entries (name, aliases, results) share a code: keep enough.
            keep = min(len(candidates), 8 * k + 40)
            kept = candidates[np.argpartition(-scores[candidates], keep - 1)[:keep]] if keep < len(candidates) else candidates
            for entry_id, score in zip(kept.tolist(), scores[kept].tolist()):
                code = self._codes[entry_id]
                if score > best.get(code, (0.0, -1, -1))[0]:
                    best[code] = (score, entry_id, number)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[: max(k, _FAMILY_SIZE)]
        ranked = self._common_case(ranked, readings)[:k]
        return [(code, round(score, 4), self._texts[entry_id]) for code, (score, entry_id, _) in ranked]

    def _close(self, readings: list[_Reading], linking: Optional[Linking]) -> np.ndarray:
        """The close candidates of every reading: their words tell procedures apart.

        A search box's query: the entries scoring at least `_CANDIDATE_SHARE` of the best
        (every missing word counted). A message: those of them that score at least MENTIONED,
        and the entries that the message mentions nearly as well as the best one when no missing
        word is counted fully (`Linking.close_share`), for in a long message every name misses
        most words, and a name that only shares a stray word ("mẹ", "giấy") with the story must
        not make that word count against the one the person named.
        """
        close = np.zeros(len(self._codes), dtype=bool)
        top = max(float(r.strict.max()) for r in readings)
        # A message: only candidates it plausibly names as they stand ("trình báo mất hộ chiếu").
        floor = MENTIONED if linking is not None else 0.0
        for reading in readings:
            close |= (reading.strict >= _CANDIDATE_SHARE * top) & (reading.strict >= floor)
        if linking is None:
            return close
        relaxed = [self._scores(reading, close, linking.dilution, bonus=False, linking=linking) for reading in readings]
        top = max(float(r.max()) for r in relaxed)
        for scores in relaxed:
            close |= scores >= linking.close_share * top
        return close

    def _common_case(
        self, ranked: list[tuple[str, tuple[float, int, int]]], readings: list[_Reading]
    ) -> list[tuple[str, tuple[float, int, int]]]:
        """Look-alikes the words cannot tell apart: the common case first, the others MARGIN behind.

        When every hit within MARGIN of the best has the same words of the query and they are
        variants of one procedure (`look_alike`: they differ only in words the person did not
        type: a level, "lại", "dưới 14 tuổi"), the query names
        their family, not one of them: the curated procedure (the common case a guide was written
        for; of several, the one the words fit best by MARGIN/2 at least, else the person chooses)
        or else the best hit leads, and the others stay in the ranking as its variants.
        """
        if len(ranked) < 2:
            return ranked
        top = ranked[0][1][0]
        tied = [item for item in ranked if item[1][0] > top - MARGIN + 1e-9]
        if len(tied) < 2:
            return ranked

        def words(item: tuple[str, tuple[float, int, int]]) -> frozenset[str]:
            _, (_, entry_id, number) = item
            reading = readings[number]
            return frozenset(t for t, (_, strength) in zip(reading.tokens, reading.naming_words) if strength[entry_id] > 0)

        if len({words(item) for item in tied}) > 1:
            return ranked
        curated = [item for item in tied if self._bonus[item[1][1]] > 0]
        if len(curated) > 1 and curated[0][1][0] - curated[1][1][0] < MARGIN / 2:
            return ranked  # two common cases the words fit as well ("bằng lái": đổi or cấp lại): the person chooses
        common = curated[0] if curated else tied[0]
        if not all(item is common or self.look_alike(common[0], item[0]) for item in tied):
            return ranked  # the same words fit different procedures ("đăng ký"): the person chooses
        lead = common[1][0]
        lowered = [(code, (score if code == common[0] else min(score, lead - MARGIN), entry_id, number))
                   for code, (score, entry_id, number) in ranked]
        return sorted(lowered, key=lambda item: (item[0] != common[0], -item[1][0], item[0]))

    def _matches(self, token: str, form: Optional[str]) -> tuple[np.ndarray, np.ndarray]:
        """(IDF-weighted match strength, 1 where the folded word is) of every entry for one query word."""
        size = len(self._codes)
        strength = np.zeros(size)
        found = np.zeros(size)
        ids = self._postings.get(token)
        if ids is not None:
            weight = self._idf[token]
            found[ids] = 1.0
            if form is None:
                strength[ids] = weight
            else:
                # Every spelling matches a little; the one typed (or an unknown one) fully.
                strength[ids] = weight * _FOLDED_ONLY
                exact = self._spelled_as.get((token, form))
                if exact is None:
                    exact = self._any_spelling.get(token)
                if exact is not None:
                    strength[exact] = weight
        return strength, found

    def _reading(
        self,
        words: list[tuple[str, Optional[str], bool]],
        typos: int,
        matches: dict[tuple[str, Optional[str]], tuple[np.ndarray, np.ndarray]],
        acts: frozenset[str] = frozenset(),
        said: frozenset[str] = frozenset(),
    ) -> Optional[_Reading]:
        """One reading of the query scored with every missing naming word counted fully; None if nothing matches."""
        size = len(self._codes)
        query_matched = np.zeros(size)
        named = np.zeros(size, dtype=bool)
        name_matched = np.zeros(size)
        found = np.zeros(size)
        # (IDF, match strength per entry) of each naming word
        naming_words: list[tuple[float, np.ndarray]] = []
        naming_tokens: list[str] = []
        # What is done to a document weighs as much as the document (up to `_ACT_RISE` times its own
        # IDF): "chứng thực bản sao căn cước" asks for the copy, not the rarer word's card.
        act_idf = sum(self._idf.get(t, self._unknown_idf) for t, _, soft in words if not soft and t in acts)
        other_idf = sum(self._idf.get(t, self._unknown_idf) for t, _, soft in words if not soft and t not in acts)
        rise = min(_ACT_RISE, max(1.0, other_idf / act_idf)) if act_idf else 1.0
        for token, form, soft in words:
            key = (token, form)
            if key not in matches:
                matches[key] = self._matches(token, form)
            strength, where = matches[key]
            name_matched += strength
            found += where
            # Light words count where the name has them, and are not missed where it has not.
            if not soft:
                idf = self._idf.get(token, self._unknown_idf)
                rised = rise if token in acts else 1.0
                query_matched += strength * rised
                if token not in said:  # a signal's words ("dưới 14 tuổi") never make a match alone
                    named |= strength > 0
                naming_words.append((idf * rised, strength * rised))
                naming_tokens.append(token)
        if not named.any():
            return None
        name_coverage = name_matched / self._weights
        in_order = np.zeros(size)
        # Pairs as typed, and with the light words left out ("khai sinh cho con": "sinh con").
        pairs = _pairs([token for token, _, _ in words]) | _pairs([token for token, _, soft in words if not soft])
        for pair in pairs:
            ids = self._pair_postings.get(pair)
            if ids is not None:
                in_order[ids] += 1.0
        order = np.where(found >= 2, np.minimum(1.0, in_order / np.maximum(found - 1, 1.0)), name_coverage)
        shape = (_BASE_WEIGHT + _ORDER_WEIGHT * order + _NAME_WEIGHT * name_coverage) * self._factor
        shape *= _TYPO_FACTOR**typos
        shape[~named] = 0.0
        query_weight = sum(weight for weight, _ in naming_words)
        acting = [t in acts for t in naming_tokens]
        saying = [t in said for t in naming_tokens]
        return _Reading(naming_words, naming_tokens, acting, saying, name_coverage, query_weight, query_matched, shape,
                        query_matched / query_weight * shape)

    def _scores(
        self, reading: _Reading, close: np.ndarray, dilution: float = _DILUTION, bonus: bool = True,
        linking: Optional[Linking] = None,
    ) -> np.ndarray:
        """Final score of every entry for one reading (0 where no naming word matches).

        Every naming word the name lacks counts against it: fully when a close
        candidate has the word, at _DILUTION when none has, for then it is the
        user's own situation ("nhà em vừa có em bé"), not a variant. Linking a
        message, such a word counts at `Linking.dilution` against a name the
        message mentions whole, and more the less of the name it has.
        """
        # An act ("chứng thực bản sao") is what the person asks done, never their story, where a
        # candidate of the message does it: it counts fully against a name that lacks it.
        # A signal's words no close candidate has tell nothing apart and cost nothing ("bà 80 tuổi" in
        # a question about thường trú is not "từ đủ 14 tuổi trở lên" of the căn cước card).
        candidates = reading.strict >= _CANDIDATE_SHARE * float(reading.strict.max())
        chatter, unsaid = [], []
        for (weight, strength), act, said in zip(reading.naming_words, reading.acts, reading.said):
            if strength[close].any() or act and strength[candidates].any():
                continue
            (unsaid if said else chatter).append((weight, strength))
        scores = reading.strict
        if chatter or unsaid:
            unsaid_weight = sum(weight for weight, _ in unsaid)
            matched = reading.query_matched - sum((strength for _, strength in unsaid), np.zeros(len(scores)))
            chatter_weight = sum(weight for weight, _ in chatter)
            chatter_matched = sum((strength for _, strength in chatter), np.zeros(len(scores)))
            missing = reading.query_weight - unsaid_weight - chatter_weight - (matched - chatter_matched)
            if linking is not None:  # a sliver of a name ("xe máy" of a long one) is no mention of it
                dilution = dilution + (1 - dilution) * (1 - np.minimum(reading.name_coverage, 1.0)) ** linking.sliver
            missing += dilution * (chatter_weight - chatter_matched)
            scores = matched / np.maximum(matched + missing, 1e-9) * reading.shape
        return np.where(reading.shape > 0, np.minimum(1.0, scores + (self._bonus if bonus else 0.0)), 0.0)


_SHARED: dict[str, SearchIndex] = {}
_SHARED_LOCK = threading.Lock()


def share_index(key: str, build: Callable[[], SearchIndex]) -> SearchIndex:
    """The process's index for this knowledge version (`index_key`), built (or unpickled) once."""
    with _SHARED_LOCK:
        index = _SHARED.get(key)
        if index is None:
            index = _SHARED[key] = build()
        return index
