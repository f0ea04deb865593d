"""The loaded knowledge: catalog procedures, curated guides and the search index."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import SHAPE_LIST

from ._documents import form_codes, normal_code
from ._search import CONFIDENT, MENTIONED, SearchIndex, Vocabulary, share_index
from ._text import fold, marked_tokens, tokens
from .errors import KnowledgeFileError, Problem
from .schema import Guide, Procedure

__all__ = ["KNOWLEDGE_ROOT", "CatalogLine", "KnowledgeBase", "SearchHit", "load_knowledge", "read_vocabulary"]

logger = logging.getLogger(__name__)

KNOWLEDGE_ROOT = Path(__file__).parent
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESULT_CHARS = 80


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    ``score`` is in [0, 1] (see `knowledge._search` for how it is built):
    >= 0.55 the query names this procedure (if the runner-up is 0.08 or more
    behind), 0.4-0.55 plausible (offer a choice), below 0.4 no procedure is
    named. ``matched`` is the name, alias or result name that matched best.
    """

    code: str
    name: str
    score: float
    procedure: Procedure
    matched: str = ""

    @property
    def confidence(self) -> str:
        """One of "confident", "ambiguous" or "weak" by the score alone (the margin is the caller's)."""
        if self.score >= CONFIDENT:
            return "confident"
        return "ambiguous" if self.score >= MENTIONED else "weak"


_PLANS: dict[type, list[tuple[str, bool, Optional[type[BaseModel]], Any]]] = {}


def _model_plan(model: type[BaseModel]) -> list[tuple[str, bool, Optional[type[BaseModel]], Any]]:
    """(field name, is a list, nested model or None, field) for each field of ``model``."""
    plan = _PLANS.get(model)
    if plan is None:
        plan = []
        for name, field in model.__fields__.items():
            inner = field.type_
            nested = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
            plan.append((name, field.shape == SHAPE_LIST, nested, field))
        _PLANS[model] = plan
    return plan


def _trusted(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Build a model from data `check` already validated, without re-validating.

    Full validation of the whole catalog takes about 1.5 s; shipped lines are
    validated by `python -m knowledge check` and the tests instead.
    """
    values: dict[str, Any] = {}
    for name, is_list, nested, field in _model_plan(model):
        if name in data:
            value = data[name]
            if nested is not None and value is not None:
                value = [_trusted(nested, item) for item in value] if is_list else _trusted(nested, value)
        else:
            value = field.get_default()
        values[name] = value
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__fields_set__", set(data))
    return instance


def read_catalog_lines(root: Path) -> Iterator[tuple[Path, int, str]]:
    """(file, line number, text) of every non-empty catalog line."""
    for path in sorted((root / "catalog").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield path, number, line


def read_signals(root: Path) -> dict[str, str]:
    """signals.yml as {everyday words: the variant's words}: its `signals`, and "N tuổi" for every age
    of its `ages` ranges (at most 150 ages a range). Raises ValueError on another shape."""
    path = root / "signals.yml"
    if not path.exists():
        return {}
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    found: dict[str, str] = {}
    signals, ages = data.get("signals") or {}, data.get("ages") or {}
    if not isinstance(signals, dict) or not all(isinstance(v, list) for v in signals.values()):
        raise ValueError(f"{path}: signals: expected {{variant words: [everyday words, ...]}}")
    for says, words in signals.items():
        found.update({str(word): str(says) for word in words})
    if not isinstance(ages, dict):
        raise ValueError(f"{path}: ages: expected {{variant words: [youngest, oldest]}}")
    for says, span in ages.items():
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(a, int) for a in span)
                and 0 <= span[0] <= span[1] < span[0] + 150):
            raise ValueError(f"{path}: ages: {says}: expected [youngest, oldest], at most 150 apart")
        young, old = span
        found.update({f"{age} tuổi": str(says) for age in range(young, old + 1)})
        # An age said with its side ("dưới 14 tuổi", "trên 13 tuổi", "từ đủ 14 tuổi") names the variant
        # whose range holds every age on that side; the longer phrase wins over "14 tuổi" alone.
        if young == 0:  # "dưới M tuổi": every age under M
            found.update({f"dưới {m} tuổi": str(says) for m in range(1, old + 2)})
        if old >= OLDEST:  # "trên M tuổi": every age over M; "từ (đủ) M tuổi": M and over
            found.update({f"{side} {m} tuổi": str(says) for m in range(max(young - 1, 0), old + 1)
                          for side in ("trên", "hơn")})
            found.update({f"{side} {m} tuổi": str(says) for m in range(young, old + 1) for side in ("từ", "từ đủ", "đủ")})
    return found


# The oldest age an `ages` range of signals.yml ends at when it means "and older".
OLDEST = 100


def read_vocabulary(root: Path) -> Vocabulary:
    """Abbreviations, synonyms, fillers, question words and acts from abbreviations.yml / fillers.yml / acts.yml."""

    def phrase(text: Any) -> tuple[str, ...]:
        return tuple(tokens(str(text)))

    def spelled(text: Any) -> tuple[tuple[str, str], ...]:
        return tuple(marked_tokens(str(text)))

    abbreviations_data = yaml.load((root / "abbreviations.yml").read_text(encoding="utf-8"), Loader=_Loader) or {}
    fillers_data = yaml.load((root / "fillers.yml").read_text(encoding="utf-8"), Loader=_Loader) or {}
    abbreviations = {phrase(k): spelled(v) for k, v in (abbreviations_data.get("abbreviations") or {}).items()}
    synonyms: dict[tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]] = {}
    for key, values in (abbreviations_data.get("synonyms") or {}).items():
        values = values if isinstance(values, list) else [values]
        synonyms[phrase(key)] = tuple(spelled(v) for v in values)
    fillers = frozenset(spelled(f) for f in fillers_data.get("fillers") or [])
    generic = frozenset(spelled(g) for g in fillers_data.get("generic") or [])
    acts_path = root / "acts.yml"
    acts_data = (yaml.load(acts_path.read_text(encoding="utf-8"), Loader=_Loader) or {}) if acts_path.exists() else {}
    acts = frozenset(spelled(a) for a in acts_data.get("acts") or [])
    signals = {phrase(k): spelled(v) for k, v in read_signals(root).items()}
    return Vocabulary(abbreviations=abbreviations, synonyms=synonyms, fillers=fillers, generic=generic, acts=acts,
                      signals=signals)


def read_guides(root: Path) -> list[Guide]:
    """Parse and validate every guide; raise KnowledgeFileError listing bad ones."""
    guides: list[Guide] = []
    problems: list[Problem] = []
    for path in sorted((root / "guides").glob("*.yml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
            guides.append(Guide.parse_obj(data))
        except (yaml.YAMLError, ValidationError) as error:
            problems.append(Problem(path, 0, "", str(error).replace("\n", " ")))
    if problems:
        raise KnowledgeFileError(problems)
    return guides


class KnowledgeBase:
    """Procedures of the national catalog, curated guides, and search over both.

    Catalog lines are parsed when first asked for (`get`, `procedures`); the
    search index needs only each line's code, name and result names.
    """

    def __init__(
        self, lines: dict[str, CatalogLine], guides: list[Guide], vocabulary: Vocabulary, index_key: str | None = None
    ) -> None:
        self._lines = lines
        self._procedures: dict[str, Procedure] = {}
        self._lock = threading.Lock()
        self._forms: Optional[dict[str, list[str]]] = None
        self._guides = sorted(guides, key=lambda g: g.slug)
        self._guides_by_code = {g.code: g for g in self._guides}
        self._guides_by_slug = {g.slug: g for g in self._guides}
        missing = sorted(code for code in self._guides_by_code if code not in lines)
        if missing:
            raise KnowledgeFileError([Problem(Path("knowledge/guides"), 0, "code", f"not in the catalog: {c}") for c in missing])
        self._vocabulary = vocabulary
        # With a key (the shipped knowledge), the one index of this process: the NLU model may have brought it.
        self.index: SearchIndex = share_index(index_key, self._build_index) if index_key else self._build_index()

    def _build_index(self) -> SearchIndex:
        lines = self._lines
        return SearchIndex(
            names=((code, line.name) for code, line in lines.items()),
            aliases=((g.code, alias) for g in self._guides for alias in [g.title, *g.aliases]),
            # Long result descriptions are sentences, not names people search for.
            results=((code, name) for code, line in lines.items() for name in line.results() if len(name) <= _RESULT_CHARS),
            vocabulary=self._vocabulary,
            curated=self._guides_by_code,
        )

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, code: object) -> bool:
        return code in self._lines

    def get(self, code: str) -> Optional[Procedure]:
        """The procedure with this national code ("1.001193"), or None."""
        procedure = self._procedures.get(code)
        if procedure is None:
            line = self._lines.get(code.strip())
            if line is None:
                return None
            with self._lock:
                procedure = self._procedures.setdefault(line.code, _trusted(Procedure, line.data()))
        return procedure

    def guide(self, code: str) -> Optional[Guide]:
        """The curated guide for this procedure code, or None."""
        return self._guides_by_code.get(code)

    def guide_by_slug(self, slug: str) -> Optional[Guide]:
        """The curated guide with this slug ("khai-sinh"), or None."""
        return self._guides_by_slug.get(slug)

    @property
    def guides(self) -> list[Guide]:
        """All curated guides, sorted by slug."""
        return list(self._guides)

    @property
    def procedures(self) -> list[Procedure]:
        """All procedures of the catalog, in code order."""
        return [p for code in self._lines if (p := self.get(code)) is not None]

    def names_for(self, code: str) -> list[str]:
        """Official name, then the guide's title and aliases (no duplicates)."""
        line = self._lines.get(code)
        if line is None:
            return []
        names = [line.name]
        guide = self._guides_by_code.get(code)
        if guide:
            names += [guide.title, *guide.aliases]
        seen: set[str] = set()
        unique = []
        for name in names:
            if name not in seen:
                seen.add(name)
                unique.append(name)
        return unique

    def procedures_with_form(self, code: str) -> list[str]:
        """Codes of the procedures whose documents name the form `code` ("CT01"), guided ones first.

        The index is built on first use from the catalog lines' document text (a regex pass, ~0.1 s).
        """
        if self._forms is None:
            with self._lock:
                if self._forms is None:
                    self._forms = _form_index(self._lines)
        users = self._forms.get(normal_code(code), [])
        return sorted(users, key=lambda c: (c not in self._guides_by_code, code_key(c)))

    def look_alikes(self, code: str, codes: list[str]) -> list[str]:
        """The `codes` that are variants of the procedure `code` (`SearchIndex.look_alike`), in order."""
        return [other for other in codes if self.index.look_alike(code, other)]

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """Procedures matching the words, best first; insensitive to diacritics and case."""
        if not fold(query):
            return []
        hits = []
        for code, score, matched in self.index.search(query, k):
            procedure = self.get(code)
            if procedure is not None:
                hits.append(SearchHit(code, procedure.name, score, procedure, matched))
        return hits


_HEAD = re.compile(r'\{"code":"([^"\\]+)","name":"((?:[^"\\]|\\.)*)"')
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class CatalogLine:
    """One shipped catalog line, parsed lazily: the index needs only code, name, results."""

    path: Path
    number: int
    text: str
    code: str
    name: str

    def results(self) -> list[str]:
        start = self.text.find('"result":[')
        if start < 0:
            return []
        value, _ = _DECODER.raw_decode(self.text, start + len('"result":'))
        return [str(v) for v in value]

    def data(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.text))
        except json.JSONDecodeError as error:
            raise KnowledgeFileError([Problem(self.path, self.number, "", f"invalid JSON: {error.msg}")]) from error


def _form_index(lines: dict[str, CatalogLine]) -> dict[str, list[str]]:
    """Form code -> codes of the procedures whose documents name it."""
    index: dict[str, list[str]] = {}
    for code, line in lines.items():
        start, end = line.text.find('"documents":['), line.text.find('"steps":[')
        for form in form_codes(line.text[start:end] if 0 <= start < end else line.text):
            users = index.setdefault(form, [])
            if code not in users:
                users.append(code)
    return index


def code_key(code: str) -> tuple[int, ...]:
    return tuple(int(p) for p in code.split("."))


def load_lines(root: Path) -> dict[str, CatalogLine]:
    """Every catalog line by code, in code order; lines without a code and name raise."""
    lines: dict[str, CatalogLine] = {}
    problems: list[Problem] = []
    for path, number, text in read_catalog_lines(root):
        head = _HEAD.match(text)
        if head is None:
            problems.append(Problem(path, number, "", 'not a procedure line (must start with {"code":..,"name":..)'))
            continue
        name = json.loads(f'"{head.group(2)}"')
        lines[head.group(1)] = CatalogLine(path, number, text.rstrip("\n"), head.group(1), name)
    if problems:
        raise KnowledgeFileError(problems)
    return dict(sorted(lines.items(), key=lambda item: tuple(int(p) for p in item[0].split("."))))


def index_key(root: Path = KNOWLEDGE_ROOT) -> str:
    """Names the search index built from these knowledge files: the index's version and the files' digest."""
    digest = hashlib.sha256()
    files = [*sorted((root / "catalog").glob("*.jsonl")), *sorted((root / "guides").glob("*.yml")),
             root / "abbreviations.yml", root / "fillers.yml", root / "acts.yml", root / "signals.yml"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"-")
    return f"v{SearchIndex.VERSION}-{digest.hexdigest()[:24]}"


@lru_cache(maxsize=4)
def _load(root: Path) -> KnowledgeBase:
    started = time.perf_counter()
    knowledge = KnowledgeBase(load_lines(root), read_guides(root), read_vocabulary(root), index_key=index_key(root))
    logger.info(
        "knowledge loaded: %d procedures, %d guides in %.2fs",
        len(knowledge),
        len(knowledge.guides),
        time.perf_counter() - started,
    )
    return knowledge


def load_knowledge(root: Optional[Path] = None) -> KnowledgeBase:
    """Load the shipped knowledge (cached per process and root folder)."""
    return _load((root or KNOWLEDGE_ROOT).resolve())
