"""Scores the model on a held-out set of messages written the way people really write
(bench/data/nlu_heldout_real.yml): what the person wants (the act), which parts of a
procedure they ask (aspects), the procedure (follow-ups with their context), and the two
failures that cost most: a question that starts a flow nobody asked for, and an
out-of-scope question answered with a procedure. Every message is measured as written and
folded (without diacritics); figures are split by register, diacritics and tag.

Confusions are reported as categories and counts; `--examples` adds the texts (for the
people who write data, never to copy into training data).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from knowledge import fold, link_decision
from nlu.acts import ASPECT_OF_INTENT
from nlu.evaluate import CONFIDENCE_THRESHOLD, _share

REAL_HELDOUT = Path(__file__).resolve().parent.parent / "bench" / "data" / "nlu_heldout_real.yml"
# The act each intent of the model is; an intent not listed is its own act.
ACT_OF_INTENT = {
    "ask_procedure": "ask", "ask_documents": "ask", "ask_fee": "ask", "ask_processing_time": "ask",
    "ask_where": "ask", "ask_conditions": "ask", "ask_result": "ask", "ask_legal_basis": "ask", "ask_postal": "ask",
    "ask_howto_online": "submit_online", "feedback": "complain", "rate_service": "rate",
    "delete_my_data": "delete_data", "xoadulieu": "delete_data", "help": "greet", "help_procedures": "ask",
}
# Flows that do something for the person: only their own request may start them.
ACTING_FLOWS = {"complain", "request_human", "submit_online"}
QUESTION_ACTS = {"ask", "out_of_scope"}
SPLIT_KEYS = ("register", "spelling", "tags")


@dataclass(frozen=True)
class RealExample:
    text: str
    act: str
    aspects: tuple[str, ...]
    procedures: tuple[str, ...]
    context: tuple[str, ...]
    register: str
    diacritics: bool
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Understood:
    """What the model made of one message, with its conversation's context."""

    act: str
    intent: Optional[str]
    confidence: float
    aspects: tuple[str, ...]
    procedure: Optional[str]
    seconds: float


def is_real_format(path: Path) -> bool:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "act" in data[0]


def read_real(path: Path = REAL_HELDOUT) -> list[RealExample]:
    """The held-out set; raises ValueError naming the first bad entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty YAML list of {{text, act, aspects, procedures, context, ...}}")
    examples = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not str(entry.get("text", "")).strip() or not entry.get("act"):
            raise ValueError(f"{path}: entry {index} needs a text and an act: {entry!r}")
        examples.append(RealExample(
            text=str(entry["text"]),
            act=str(entry["act"]),
            aspects=tuple(str(a) for a in entry.get("aspects") or ()),
            procedures=tuple(str(c) for c in entry.get("procedures") or ()),
            context=tuple(str(c) for c in entry.get("context") or ()),
            register=str(entry.get("register") or "?"),
            diacritics=bool(entry.get("diacritics", True)),
            tags=tuple(str(t) for t in entry.get("tags") or ()),
        ))
    return examples


def act_of(intent: Optional[str], confidence: float, threshold: float = CONFIDENCE_THRESHOLD) -> str:
    if not intent or confidence < threshold:
        return "not_understood"
    return ACT_OF_INTENT.get(intent, intent)


def procedure_in_focus(parse: Any, before: Optional[str]) -> Optional[str]:
    """The procedure a message is about: the one it names, else the one talked about before
    (as the procedure_info flow resolves it, knowledge.link_decision)."""
    code = parse.entities.get("procedure")
    if code:
        return code
    scores = [p.score for p in parse.procedures]
    if link_decision(scores) != "weak":
        return parse.procedures[0].code
    return before


def _aspects(parse: Any) -> tuple[str, ...]:
    aspects = tuple(getattr(parse, "aspects", None) or ())
    implied = ASPECT_OF_INTENT.get(parse.intent or "")
    return aspects or ((implied,) if implied else ())


def understand(model: Any, example: RealExample, folded: bool) -> Understood:
    """Runs the context turns, then the message; every text folded when `folded`."""
    spell = fold if folded else (lambda t: t)
    focus: Optional[str] = None
    asked: tuple[str, ...] = ()
    for turn in example.context:
        parse = model.parse_sync(spell(turn))
        if act_of(parse.intent, parse.confidence) == "ask":
            focus = procedure_in_focus(parse, focus)
            asked = _aspects(parse) or asked
    started = time.perf_counter()
    parse = model.parse_sync(spell(example.text))
    seconds = time.perf_counter() - started
    act = act_of(parse.intent, parse.confidence)
    return Understood(
        act=act,
        intent=parse.intent,
        confidence=parse.confidence,
        # a question naming no part asks the part asked before (the flows keep procedure_aspect)
        aspects=(_aspects(parse) or asked) if act == "ask" else (),
        procedure=procedure_in_focus(parse, focus) if act == "ask" else None,
        seconds=seconds,
    )


@dataclass
class _Tally:
    n: int = 0
    act: int = 0
    asked: int = 0
    aspects_exact: int = 0
    aspects_first: int = 0
    linked: int = 0
    procedure: int = 0
    questions: int = 0
    questions_acting: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "act_accuracy": _share(self.act, self.n),
            "aspects": {"n": self.asked, "exact": _share(self.aspects_exact, self.asked),
                        "first_right": _share(self.aspects_first, self.asked)},
            "procedure": {"n": self.linked, "top1": _share(self.procedure, self.linked)},
            "questions_starting_flows": {"n": self.questions, "count": self.questions_acting},
            "out_of_scope_answered_with_procedure": {
                "n": self.out_of_scope, "count": self.out_of_scope_answered,
                "share": _share(self.out_of_scope_answered, self.out_of_scope),
            },
        }


def _splits(example: RealExample, folded: bool) -> list[str]:
    spelled = "without_diacritics" if folded or not example.diacritics else "with_diacritics"
    return ["all", f"as_{'folded' if folded else 'written'}", f"register:{example.register}",
            f"spelling:{spelled}", *(f"tag:{t}" for t in example.tags)]


def score_real(pairs: Sequence[tuple[RealExample, bool, Understood]], examples: bool = False) -> dict[str, Any]:
    """The figures for (example, folded, understood) triples."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    confusions: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for example, folded, got in pairs:
        gold_aspects = set(example.aspects)
        for name in _splits(example, folded):
            t = tallies[name]
            t.n += 1
            t.act += got.act == example.act
            if example.act == "ask" and gold_aspects:
                t.asked += 1
                t.aspects_exact += set(got.aspects) == gold_aspects
                t.aspects_first += bool(got.aspects) and got.aspects[0] in gold_aspects
            if example.act == "ask" and example.procedures:
                t.linked += 1
                t.procedure += got.procedure in example.procedures
            if example.act in QUESTION_ACTS:
                t.questions += 1
                t.questions_acting += got.act in ACTING_FLOWS
            if example.act == "out_of_scope":
                t.out_of_scope += 1
                t.out_of_scope_answered += got.act == "ask"
        text = fold(example.text) if folded else example.text
        if got.act != example.act:
            confusions[("act", example.act, got.act)].append(text)
        elif example.act == "ask" and gold_aspects and set(got.aspects) != gold_aspects:
            gold = "+".join(sorted(gold_aspects))
            confusions[("aspects", gold, "+".join(got.aspects) or "-")].append(text)
        elif example.act == "ask" and example.procedures and got.procedure not in example.procedures:
            where = "context" if example.context else "named"
            confusions[("procedure", where, "none" if got.procedure is None else "other")].append(text)
    ordered = sorted(confusions.items(), key=lambda item: (-len(item[1]), item[0]))
    seconds = sorted(got.seconds for _, _, got in pairs)
    return {
        "splits": {name: tallies[name].figures() for name in sorted(tallies, key=lambda n: (n != "all", n))},
        "latency_ms": {
            "p50": round(1000 * seconds[len(seconds) // 2], 3) if seconds else 0.0,
            "p95": round(1000 * seconds[min(len(seconds) - 1, int(0.95 * (len(seconds) - 1) + 0.5))], 3) if seconds else 0.0,
        },
        "confusions": [
            {"kind": kind, "gold": gold, "predicted": predicted, "count": len(texts),
             **({"examples": texts[:3]} if examples else {})}
            for (kind, gold, predicted), texts in ordered
        ],
    }


def evaluate_real(model: Any, examples: Sequence[RealExample], show_examples: bool = False) -> dict[str, Any]:
    pairs = [(e, folded, understand(model, e, folded)) for folded in (False, True) for e in examples]
    return score_real(pairs, show_examples)


def report_real(result: dict[str, Any], confusions: int = 25) -> str:
    def pct(value: Optional[float]) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    lines = [f"{'':<26}{'n':>5}{'act':>8}{'parts n':>9}{'parts':>8}{'first':>8}{'proc n':>8}{'proc':>8}"
             f"{'q->flow':>9}{'oos n':>7}{'oos->proc':>10}"]
    for name, row in result["splits"].items():
        asp, proc = row["aspects"], row["procedure"]
        flows, oos = row["questions_starting_flows"], row["out_of_scope_answered_with_procedure"]
        lines.append(
            f"{name:<26}{row['n']:>5}{pct(row['act_accuracy']):>8}{asp['n']:>9}{pct(asp['exact']):>8}"
            f"{pct(asp['first_right']):>8}{proc['n']:>8}{pct(proc['top1']):>8}{flows['count']:>9}"
            f"{oos['n']:>7}{pct(oos['share']):>10}"
        )
    lines.append("act: act accuracy (below confidence 0.5: not understood); parts: the set of aspects asked is exactly")
    lines.append("right (first: the first aspect is one asked); proc: the procedure in focus, context turns first;")
    lines.append("q->flow: questions (asks and out-of-scope) that start complaint, handover or submission;")
    lines.append("oos->proc: out-of-scope questions answered as a procedure question.")
    lat = result["latency_ms"]
    lines.append(f"parse latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    lines.append("")
    lines.append("confusions (kind: gold -> predicted):")
    for c in result["confusions"][:confusions]:
        sample = ("  | " + " | ".join(c["examples"][:2])) if c.get("examples") else ""
        lines.append(f"  {c['count']:>3}  {c['kind']}: {c['gold']} -> {c['predicted']}{sample}")
    return "\n".join(lines)
