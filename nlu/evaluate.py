"""How well the NLU model understands a held-out set: intent accuracy, macro F1,
per-intent report, procedure top-1/top-3, each split by with/without diacritics,
and the confusions (gold -> predicted) with example texts.

The arithmetic (`score`) is separate from the model (`predict`), so it is tested
on small hand-made sets without loading anything.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "bench" / "data" / "nlu_heldout.yml"
RESULTS = ROOT / "bench" / "results" / "nlu_eval.json"
SPLITS = ("all", "with_diacritics", "without_diacritics")
# Example texts kept per confusion pair: enough to see the pattern, short enough to read.
EXAMPLES_PER_CONFUSION = 3
# The flows treat a typed message below this intent confidence as not understood
# (NLU_CONFIDENCE); "confident accuracy" counts only the right answers above it.
CONFIDENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class HeldOutExample:
    """One utterance of the held-out set with what it should be understood as."""

    text: str
    intent: str
    codes: tuple[str, ...] = ()
    diacritics: bool = True
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prediction:
    """What the model understood of one utterance."""

    intent: Optional[str]
    procedures: tuple[str, ...] = ()
    confidence: float = 0.0
    seconds: float = 0.0
    # CPU time of the parse: on a shared machine, wall time also counts the others' work
    cpu_seconds: float = 0.0
    # the parts of a procedure asked (ParseResult.aspects)
    aspects: tuple[str, ...] = ()


@dataclass
class _Tally:
    n: int = 0
    correct: int = 0
    confident: int = 0
    # right, or a walk-through request read as a question about the online way
    online_question: int = 0
    linked: int = 0
    top1: int = 0
    top3: int = 0
    pairs: list[tuple[str, str]] = field(default_factory=list)


def read_heldout(path: Path = HELDOUT) -> list[HeldOutExample]:
    """The held-out set; raises ValueError naming the first bad entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty YAML list of {{text, intent, code, diacritics, tags}}")
    examples = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not str(entry.get("text", "")).strip() or not entry.get("intent"):
            raise ValueError(f"{path}: entry {index} needs a text and an intent: {entry!r}")
        raw_code = entry.get("code")
        codes = raw_code if isinstance(raw_code, list) else ([] if raw_code is None else [raw_code])
        examples.append(
            HeldOutExample(
                text=str(entry["text"]),
                intent=str(entry["intent"]),
                codes=tuple(str(c) for c in codes),
                diacritics=bool(entry.get("diacritics", True)),
                tags=tuple(str(t) for t in entry.get("tags") or ()),
            )
        )
    return examples


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def intent_report(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, dict[str, Any]], float]:
    """Per-intent precision/recall/F1/support over (gold, predicted) pairs, and their macro F1.

    The labels are every intent that is gold or predicted at least once (as sklearn
    does): predicting an intent the set never asks for costs a zero in the mean.
    """
    gold = Counter(g for g, _ in pairs)
    predicted = Counter(p for _, p in pairs)
    hits = Counter(g for g, p in pairs if g == p)
    report: dict[str, dict[str, Any]] = {}
    for label in sorted(set(gold) | set(predicted)):
        precision = hits[label] / predicted[label] if predicted[label] else 0.0
        recall = hits[label] / gold[label] if gold[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": gold[label],
        }
    macro = sum(r["f1"] for r in report.values()) / len(report) if report else 0.0
    return report, round(macro, 4)


def _split_of(example: HeldOutExample) -> str:
    return "with_diacritics" if example.diacritics else "without_diacritics"


def _asks_the_online_way(gold: str, prediction: Prediction) -> bool:
    """An "how do I do X online" labelled as the walk-through, read as a question about the online way
    or the steps (the question it also is: procedure_info answers it and offers the walk-through)."""
    return gold == "ask_howto_online" and prediction.intent == "ask_procedure" and bool(
        {"online", "steps"} & set(prediction.aspects)
    )


def score(
    examples: Sequence[HeldOutExample], predictions: Sequence[Prediction], threshold: float = CONFIDENCE_THRESHOLD
) -> dict[str, Any]:
    """All the figures for predictions made on examples (same order, same length)."""
    if len(examples) != len(predictions):
        raise ValueError(f"{len(examples)} examples but {len(predictions)} predictions")
    tallies = {name: _Tally() for name in SPLITS}
    confusions: dict[tuple[str, str], list[str]] = defaultdict(list)
    procedure_misses = []
    for example, prediction in zip(examples, predictions):
        predicted = prediction.intent or "<none>"
        top1 = bool(prediction.procedures) and prediction.procedures[0] in example.codes
        top3 = any(code in example.codes for code in prediction.procedures[:3])
        for name in ("all", _split_of(example)):
            tally = tallies[name]
            tally.n += 1
            tally.correct += predicted == example.intent
            tally.confident += predicted == example.intent and prediction.confidence >= threshold
            tally.online_question += predicted == example.intent or _asks_the_online_way(example.intent, prediction)
            tally.pairs.append((example.intent, predicted))
            if example.codes:
                tally.linked += 1
                tally.top1 += top1
                tally.top3 += top3
        if predicted != example.intent:
            confusions[(example.intent, predicted)].append(example.text)
        if example.codes and not top1:
            procedure_misses.append(
                {"text": example.text, "expected": list(example.codes), "got": list(prediction.procedures[:3])}
            )

    splits: dict[str, Any] = {}
    for name, tally in tallies.items():
        per_intent, macro_f1 = intent_report(tally.pairs)
        splits[name] = {
            "n": tally.n,
            "intent_accuracy": _share(tally.correct, tally.n),
            "confident_accuracy": _share(tally.confident, tally.n),
            "accuracy_online_question_right": _share(tally.online_question, tally.n),
            "macro_f1": macro_f1 if tally.n else None,
            "procedure": {
                "n": tally.linked,
                "top1": _share(tally.top1, tally.linked),
                "top3": _share(tally.top3, tally.linked),
            },
            "per_intent": per_intent,
        }
    with_d, without_d = splits["with_diacritics"], splits["without_diacritics"]
    gap = None
    if with_d["intent_accuracy"] is not None and without_d["intent_accuracy"] is not None:
        gap = round(with_d["intent_accuracy"] - without_d["intent_accuracy"], 4)
    ordered = sorted(confusions.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "examples": len(examples),
        "confidence_threshold": threshold,
        **{name: splits[name] for name in SPLITS},
        "no_diacritics_gap": gap,
        "confusions": [
            {"gold": gold, "predicted": predicted, "count": len(texts), "examples": texts[:EXAMPLES_PER_CONFUSION]}
            for (gold, predicted), texts in ordered
        ],
        "procedure_misses": procedure_misses,
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at that fraction of the sorted values (nearest rank), 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))]


def predict(model: Any, texts: Iterable[str]) -> list[Prediction]:
    """Parses each text with an NluModel, timing each parse."""
    predictions = []
    for text in texts:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = model.parse_sync(text)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        predictions.append(
            Prediction(result.intent, tuple(p.code for p in result.procedures), result.confidence, seconds, cpu_seconds,
                       tuple(result.aspects))
        )
    return predictions


def latency_ms(predictions: Sequence[Prediction]) -> dict[str, float]:
    """Parse latency over the predictions: p50, p95, max (wall clock) and CPU p50, p95, in milliseconds."""
    values = [p.seconds * 1000 for p in predictions]
    cpu = [p.cpu_seconds * 1000 for p in predictions]
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values, default=0.0), 3),
        "cpu_p50": round(percentile(cpu, 0.50), 3),
        "cpu_p95": round(percentile(cpu, 0.95), 3),
    }


def report(result: dict[str, Any], per_intent: bool = True, confusions: int = 15) -> str:
    """The figures as plain-text tables."""

    def pct(value: Optional[float]) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    lines = [f"{'':<20}{'n':>5}{'intent acc':>12}{'confident':>11}{'macro F1':>10}{'proc n':>8}{'top-1':>8}{'top-3':>8}"]
    labels = {"all": "all", "with_diacritics": "with diacritics", "without_diacritics": "without diacritics"}
    for name in SPLITS:
        row = result[name]
        f1 = "   n/a" if row["macro_f1"] is None else f"{row['macro_f1']:.3f}"
        proc = row["procedure"]
        lines.append(
            f"{labels[name]:<20}{row['n']:>5}{pct(row['intent_accuracy']):>12}{pct(row['confident_accuracy']):>11}{f1:>10}"
            f"{proc['n']:>8}{pct(proc['top1']):>8}{pct(proc['top3']):>8}"
        )
    lines.append(f"(confident: right and at or above confidence {result['confidence_threshold']}, as the flows require)")
    if result["all"].get("accuracy_online_question_right") is not None:
        lines.append(f"counting a walk-through request read as a question about the online way or steps as right: "
                     f"{pct(result['all']['accuracy_online_question_right']).strip()}")
    if result.get("no_diacritics_gap") is not None:
        lines.append(f"no-diacritics gap: {100 * result['no_diacritics_gap']:+.1f} points (with minus without)")
    if "latency_ms" in result:
        lat = result["latency_ms"]
        lines.append(
            f"parse latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, max {lat['max']:.1f} ms "
            f"(CPU p50 {lat['cpu_p50']:.1f} ms, p95 {lat['cpu_p95']:.1f} ms)"
        )
    if per_intent:
        lines.append("")
        lines.append(f"{'intent':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
        for label, row in result["all"]["per_intent"].items():
            lines.append(
                f"{label:<22}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}{row['support']:>9}"
            )
    if confusions and result["confusions"]:
        lines.append("")
        lines.append("confusions (gold -> predicted):")
        for pair in result["confusions"][:confusions]:
            sample = " | ".join(pair["examples"][:2])
            lines.append(f"  {pair['count']:>3}  {pair['gold']} -> {pair['predicted']}: {sample}")
    return "\n".join(lines)
