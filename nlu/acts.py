"""What a message wants (its act) and which parts of a procedure it asks about (its aspects).

The words that decide both live in YAML (act_words.yml, aspects.yml); this module reads them
into phrase sets matched on the canonical (folded, short forms expanded) text. The Rasa
components persist what they read, so a model answers the same wherever it is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from knowledge import fold
from knowledge._text import marked_tokens
from nlu.normalize import Lexicon, load_lexicon, marked_words, normalize

NLU_DIR = Path(__file__).resolve().parent
ACT_WORDS_FILE = NLU_DIR / "act_words.yml"
ASPECTS_FILE = NLU_DIR / "aspects.yml"
# The aspect names the whole project uses (README, "Understanding").
ASPECTS = ("documents", "fee", "time", "where", "conditions", "result", "legal", "steps", "forms", "who", "online", "postal")
# The act every question about a procedure is, whatever part it asks about.
QUESTION_INTENT = "ask_procedure"
# The aspect an `ask_*` intent implies, when the NLU gives no aspects of its own (models before issue 11).
ASPECT_OF_INTENT = {
    "ask_documents": "documents", "ask_fee": "fee", "ask_processing_time": "time", "ask_where": "where",
    "ask_conditions": "conditions", "ask_result": "result", "ask_legal_basis": "legal", "ask_postal": "postal",
}


def asking_clauses(
    original: str, asking: "PhraseSet", greetings: "PhraseSet | None" = None, explicit: "PhraseSet | None" = None
) -> list[list[str]] | None:
    """The sentences of a message that ask, each as its canonical clauses (split at commas), or
    None when the message is one sentence, or none or all of them ask.

    A sentence asks when a "?" follows it or it holds a question word; where the person put a
    "?", only those sentences ask (a story's "không có giấy tờ gì." tells, it does not ask);
    without one, where a sentence says it asks ("em muốn hỏi …", `explicit`), it and the asking
    sentences after it do.
    A greeting before the first comma ("chào ad, cho em hỏi …") is a sentence of its own when
    `greetings` is given. The one place the asking part is worked out: the normaliser repeats
    it for the classifiers and keeps it for the aspect classifier's anchors.
    """
    pieces = [(m.start(), m.end()) for m in re.finditer(r"[^?!;\n.:]+(?:[.:]\w[^?!;\n.:]*)*", original)]
    if greetings is not None and pieces:
        a, b = pieces[0]
        comma = original.find(",", a, b)
        head = normalize(original[a:comma], load_lexicon()) if comma > 0 else ""
        if head and any(p == 0 for p, _ in greetings.find(head)):
            pieces[:1] = [(a, comma), (comma + 1, b)]
    sentences = [(original[a:b], original[b:b + 1]) for a, b in pieces if original[a:b].strip()]
    if len(sentences) < 2:
        return None
    lexicon = load_lexicon()
    canonical = [(normalize(text, lexicon), text, after) for text, after in sentences]
    canonical = [(c, text, after) for c, text, after in canonical if c]
    marked = any(after == "?" for _, _, after in canonical)
    said = next((i for i, (c, _, _) in enumerate(canonical) if explicit is not None and c in explicit), 0)
    chosen = [text for i, (c, text, after) in enumerate(canonical)
              if after == "?" or (not marked and i >= said and c in asking)]
    if not 0 < len(chosen) < len(canonical):
        return None
    return [_clauses(text, lexicon) for text in chosen]


def _clauses(text: str, lexicon: Lexicon) -> list[str]:
    """The canonical clauses of a sentence: split at commas and at "và" (two questions joined)."""
    parts = (normalize(part, lexicon) for part in text.split(","))
    return [c for part in parts for c in _AND.split(part) if c]


_AND = re.compile(r"\s*(?<!\w)va(?!\w)\s*")


def asking_sentences(original: str, asking: "PhraseSet", greetings: "PhraseSet | None" = None) -> list[str] | None:
    """The canonical sentences of a message that ask (see `asking_clauses`)."""
    chosen = asking_clauses(original, asking, greetings, None)
    return None if chosen is None else [" ".join(sentence) for sentence in chosen]


def clauses_of(original: str) -> list[str]:
    """The canonical clauses of a whole message (split at sentence ends, commas and "và")."""
    lexicon = load_lexicon()
    return [c for sentence in re.split(r"[?!;\n]|[.:](?!\w)", original) for c in _clauses(sentence, lexicon)]


class PhraseSet:
    """Phrases in canonical form, found as whole words in canonical text."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = sorted({p for p in phrases if p}, key=lambda p: (-len(p), p))
        body = "|".join(re.escape(p) for p in self.phrases)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)") if body else None

    def find(self, canonical: str) -> list[tuple[int, str]]:
        """(position, phrase) of each phrase in the text, longest first where they overlap."""
        return [] if self._pattern is None else [(m.start(), m.group(0)) for m in self._pattern.finditer(canonical)]

    def __contains__(self, canonical: object) -> bool:
        return isinstance(canonical, str) and bool(self.find(canonical))


def _canonical(phrases: Iterable[Any]) -> list[str]:
    lexicon = load_lexicon()
    return [normalize(str(p), lexicon) for p in phrases]


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read the {what}: {e}") from e
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of {what}")
    return raw


@dataclass(frozen=True)
class ActWords:
    """Each guarded act's own words, and the words that ask."""

    acts: dict[str, list[str]]
    question_words: list[str]
    # per act, formal requests for a written answer that make a message that asks a question
    # although it holds the act's words ("Đề nghị hướng dẫn … như thế nào?")
    asked_in_writing: dict[str, list[str]] = field(default_factory=dict)
    # greetings that open a message: before a comma they are a sentence of their own
    greetings: list[str] = field(default_factory=list)
    # phrases that say the sentence asks ("em muốn hỏi"): in a story, the question starts there
    saying_asking: list[str] = field(default_factory=list)
    # per act, words one of which it needs besides its own, asking or not (the walk-through
    # submits online: "hướng dẫn các bước đăng ký kết hôn" asks the steps)
    needs: dict[str, list[str]] = field(default_factory=dict)
    # per act, words that say it outright: a message holding one that asks nothing is that act
    # however the classifier reads it ("bắt đầu nộp hồ sơ cấp lại khai sinh nhé")
    outright: dict[str, list[str]] = field(default_factory=dict)
    # words of a question about a rule no procedure answers (a penalty, a right): out of scope
    # even where a procedure is named ("không khai tử thì có bị phạt không")
    rule_words: list[str] = field(default_factory=list)

    @classmethod
    def from_yaml(cls, path: Path = ACT_WORDS_FILE) -> ActWords:
        raw = _read(path, "act words")
        acts = raw.get("acts") or {}
        if not isinstance(acts, dict) or not all(isinstance(v, list) for v in acts.values()):
            raise ValueError(f"{path}: 'acts' maps an intent to a list of its words")
        written = raw.get("asked_in_writing") or {}
        if not isinstance(written, dict) or not all(isinstance(v, list) for v in written.values()):
            raise ValueError(f"{path}: 'asked_in_writing' maps an intent to a list of formal requests")
        needs = raw.get("needs_one_of") or {}
        if not isinstance(needs, dict) or not all(isinstance(v, list) for v in needs.values()):
            raise ValueError(f"{path}: 'needs_one_of' maps an intent to a list of words")
        outright = raw.get("outright") or {}
        if not isinstance(outright, dict) or not all(isinstance(v, list) for v in outright.values()):
            raise ValueError(f"{path}: 'outright' maps an intent to a list of words")
        unknown = sorted((set(written) | set(needs) | set(outright)) - set(acts))
        if unknown:
            raise ValueError(f"{path}: 'asked_in_writing', 'needs_one_of' or 'outright' names acts without words: {unknown}")
        return cls(
            {str(a): _canonical(ws) for a, ws in acts.items()},
            _canonical(raw.get("question_words") or []),
            {str(a): _canonical(ws) for a, ws in written.items()},
            _canonical(raw.get("greetings") or []),
            _canonical(raw.get("saying_asking") or []),
            {str(a): _canonical(ws) for a, ws in needs.items()},
            {str(a): _canonical(ws) for a, ws in outright.items()},
            _canonical(raw.get("rule_words") or []),
        )

    def sets(self) -> tuple[dict[str, PhraseSet], PhraseSet]:
        return {a: PhraseSet(ws) for a, ws in self.acts.items()}, PhraseSet(self.question_words)

    def written_sets(self) -> dict[str, PhraseSet]:
        return {a: PhraseSet(ws) for a, ws in self.asked_in_writing.items()}

    def needed_sets(self) -> dict[str, PhraseSet]:
        return {a: PhraseSet(ws) for a, ws in self.needs.items()}

    def outright_sets(self) -> dict[str, PhraseSet]:
        return {a: PhraseSet(ws) for a, ws in self.outright.items()}


@dataclass(frozen=True)
class AspectWords:
    """Which aspect each training intent teaches, and each aspect's anchor phrases."""

    intents: dict[str, str]
    anchors: dict[str, list[str]]
    openers: list[str] = field(default_factory=list)
    closers: list[str] = field(default_factory=list)
    weak: dict[str, list[str]] = field(default_factory=dict)
    anchored_only: list[str] = field(default_factory=list)
    # per aspect, regular expressions on the canonical text that anchor it (a form code: "ct01")
    patterns: dict[str, list[str]] = field(default_factory=dict)
    # per aspect, other aspects' phrases that belong to its answer when it is anchored
    absorbs: dict[str, list[str]] = field(default_factory=dict)
    # per aspect, phrases that anchor it only when nothing else does ("thủ tục thế nào")
    fallback: dict[str, list[str]] = field(default_factory=dict)
    # openings that look like a follow-up's opener but are not ("con tôi" is my child)
    not_openers: list[str] = field(default_factory=list)
    # per canonical anchor (strong or weak), its spellings with diacritics ("có cần"), matched
    # against the words as typed: a word typed with marks must be spelled so
    spelled: dict[str, list[str]] = field(default_factory=dict)
    # words of their own that anchors must not cut through ("làm hộ" in "làm hộ chiếu")
    not_anchors: list[str] = field(default_factory=list)

    @classmethod
    def from_yaml(cls, path: Path = ASPECTS_FILE) -> AspectWords:
        raw = _read(path, "aspects")
        intents = {str(k): str(v) for k, v in (raw.get("intents") or {}).items()}
        anchors = raw.get("anchors") or {}
        unknown = sorted((set(intents.values()) | set(anchors)) - set(ASPECTS))
        if unknown:
            raise ValueError(f"{path}: unknown aspect(s) {unknown}; the names are {', '.join(ASPECTS)}")
        follow_up = raw.get("follow_up") or {}
        sections = {key: raw.get(key) or {} for key in ("weak_anchors", "anchor_patterns", "absorbs", "fallback_anchors")}
        for key, section in sections.items():
            if not isinstance(section, dict) or not all(isinstance(v, list) for v in section.values()):
                raise ValueError(f"{path}: '{key}' maps an aspect to a list")
            unknown = sorted(set(section) - set(ASPECTS))
            if unknown:
                raise ValueError(f"{path}: unknown aspect(s) {unknown} in {key}")
        for aspect, patterns in sections["anchor_patterns"].items():
            for pattern in patterns:
                try:
                    re.compile(str(pattern))
                except re.error as e:
                    raise ValueError(f"{path}: anchor_patterns of {aspect}: bad expression {pattern!r}: {e}") from e
        spelled: dict[str, list[str]] = {}
        blockers = raw.get("not_anchors") or []
        if not isinstance(blockers, list):
            raise ValueError(f"{path}: 'not_anchors' is a list of phrases")
        for phrase in [p for section in (anchors, sections["weak_anchors"]) for ps in section.values() for p in ps] + blockers:
            spelled.setdefault(_canonical([phrase])[0], []).append(spelling(str(phrase)))
        only = [str(a) for a in raw.get("anchored_only") or []]
        unknown = sorted(set(only) - set(anchors))
        if unknown:
            raise ValueError(f"{path}: anchored_only names aspect(s) without anchors: {unknown}")
        return cls(
            intents,
            {str(a): _canonical(ps) for a, ps in anchors.items()},
            _canonical(follow_up.get("openers") or []),
            _canonical(follow_up.get("closers") or []),
            {str(a): _canonical(ps) for a, ps in sections["weak_anchors"].items()},
            only,
            {str(a): [str(p) for p in ps] for a, ps in sections["anchor_patterns"].items()},
            {str(a): _canonical(ps) for a, ps in sections["absorbs"].items()},
            {str(a): _canonical(ps) for a, ps in sections["fallback_anchors"].items()},
            _canonical(follow_up.get("not_openers") or []),
            {p: sorted(set(ss)) for p, ss in spelled.items()},
            _canonical(blockers),
        )

    def is_follow_up(self, canonical: str) -> bool:
        """Whether a question opens or closes like one that continues the question before."""
        if any(canonical == p or canonical.startswith(p + " ") for p in self.not_openers):
            return any(canonical == p or canonical.endswith(" " + p) for p in self.closers)
        return any(canonical == p or canonical.startswith(p + " ") for p in self.openers) or any(
            canonical == p or canonical.endswith(" " + p) for p in self.closers
        )

    def aspects_of(self, intent: str | None) -> list[str] | None:
        """The aspects a training intent teaches ("ask_fee+ask_processing_time": fee, time); None if not a question."""
        if not intent:
            return None
        parts = intent.split("+")
        if not all(p in self.intents for p in parts):
            return None
        return list(dict.fromkeys(self.intents[p] for p in parts))

    def matcher(self) -> AnchorMatcher:
        return AnchorMatcher(self.anchors, self.patterns, self.spelled, self.not_anchors)

    def weak_matcher(self) -> AnchorMatcher:
        return AnchorMatcher(self.weak, None, self.spelled, self.not_anchors)

    def fallback_matcher(self) -> AnchorMatcher:
        return AnchorMatcher(self.fallback)


def spelling(text: str) -> str:
    """A text's canonical words with the diacritics typed, each in one spelling ("hoá" is "hóa")."""
    return " ".join(form for _, form in typed_forms_of(text))


def typed_forms_of(text: str) -> list[tuple[str, str]]:
    """(canonical word, its spelling as typed) of each word: short forms expanded as the lexicon
    spells them; a word typed without diacritics is its folded self."""
    out = []
    for folded, typed in marked_words(text):
        form = marked_tokens(typed)
        out.append((folded, form[0][1] if len(form) == 1 and form[0][0] == folded else typed))
    return out


def typed_forms(text: str) -> dict[str, list[str]]:
    """Each canonical word of a message and the spellings it was typed in (the evidence anchors
    are matched on; a word met several times may have several)."""
    forms: dict[str, list[str]] = {}
    for folded, form in typed_forms_of(text):
        if form not in forms.setdefault(folded, []):
            forms[folded].append(form)
    return forms


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _spelled_as(typed: str, spelled: str) -> bool:
    """Whether a word as typed (`typed_forms`) may be the word spelled: every mark typed is the
    spelling's, a mark left out is no evidence ("luât" may be "luật", "căn" is never "cần",
    "cũng" never "cùng"); a word typed without any is its folded self and matches any spelling."""
    if typed.isascii():
        return fold(spelled) == typed
    tone = typed[-1] if typed[-1] in _TONES else ""
    letters = typed[:-1] if tone else typed
    spelled_tone = spelled[-1] if spelled[-1] in _TONES else ""
    spelled_letters = spelled[:-1] if spelled_tone else spelled
    if tone and tone != spelled_tone or len(letters) != len(spelled_letters):
        return False
    return all(t == s or t == fold(s) for t, s in zip(letters, spelled_letters))


class AnchorMatcher:
    """Finds the aspects a canonical text names by their anchors, in the order they are asked.

    Found on the folded text, then checked on the words as typed (`forms`, from `typed_forms`):
    a word typed with diacritics keeps them, so "có căn cước" is no "có cần", while "co can"
    typed without any matches either, and a mark left out is no evidence ("luât" is "luật").
    An anchor that cuts through a word of its own (`not_anchors`: "làm hộ" in "làm hộ chiếu",
    "lam ho" in "lam ho so") is no anchor there.
    """

    def __init__(
        self,
        anchors: dict[str, list[str]],
        patterns: dict[str, list[str]] | None = None,
        spelled: dict[str, list[str]] | None = None,
        not_anchors: Iterable[str] = (),
    ) -> None:
        self._aspect_of = {p: a for a, ps in anchors.items() for p in ps}
        self._phrases = PhraseSet(self._aspect_of)
        self._patterns = [(re.compile(p), a) for a, ps in (patterns or {}).items() for p in ps]
        self._spelled = spelled or {}
        self._blockers = PhraseSet(not_anchors)

    def _as_typed(self, phrase: str, forms: dict[str, list[str]] | None) -> bool:
        """Whether the words of an anchor were typed as it is spelled (or without diacritics)."""
        spellings = self._spelled.get(phrase)
        if forms is None or not spellings:
            return True
        for spelled in spellings:
            words = spelled.split()
            if len(words) != len(phrase.split()):
                return True
            if all(not forms.get(f) or any(_spelled_as(t, s) for t in forms[f]) for f, s in zip(phrase.split(), words)):
                return True
        return False

    def _cut(self, start: int, phrase: str, blocked: list[tuple[int, int]]) -> bool:
        """Whether an anchor at `start` cuts through a word of its own (overlaps it, not holding it)."""
        end = start + len(phrase)
        return any(a < end and start < b and not (start <= a and b <= end) for a, b in blocked)

    def hits(self, canonical: str, forms: dict[str, list[str]] | None = None) -> list[tuple[int, str, str]]:
        """(position, aspect, phrase) of each anchor in the text, in the order they appear."""
        blocked = [(i, i + len(p)) for i, p in self._blockers.find(canonical) if self._as_typed(p, forms)]
        found = [
            (i, self._aspect_of[p], p)
            for i, p in self._phrases.find(canonical)
            if self._as_typed(p, forms) and not self._cut(i, p, blocked)
        ]
        found += [(m.start(), a, m.group(0)) for pattern, a in self._patterns for m in pattern.finditer(canonical)]
        return sorted(found)

    def find(self, canonical: str, forms: dict[str, list[str]] | None = None) -> list[str]:
        return list(dict.fromkeys(a for _, a, _ in self.hits(canonical, forms)))
