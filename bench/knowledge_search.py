"""Benchmark the knowledge search on the held-out query set: accuracy and latency.

    .venv/bin/python bench/knowledge_search.py [--queries bench/data/search_queries.yml]

Prints top-1 / top-3 accuracy split by queries typed with and without
diacritics, what the flows would do with each query (`knowledge.link_decision`:
answer, offer buttons, or find nothing; and whether that was right), the
per-query latency (mean, p95) and the load time, and writes the same figures
(plus the misses) to bench/results/knowledge_search.json.
Exit status: 0 done, 2 the query set is missing or malformed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = ROOT / "bench" / "data" / "search_queries.yml"
RESULTS = ROOT / "bench" / "results" / "knowledge_search.json"
WARM_UP = 5
# What the flows do with a query: answer the top hit, offer the top hits as buttons, or ask again.
DECISIONS = ("answered_right", "answered_wrong", "choice_with_gold", "choice_without_gold", "nothing_found")


def read_queries(path: Path) -> list[dict[str, Any]]:
    """The query set as [{text, codes, diacritics}]; raises ValueError naming a bad entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty YAML list of {{text, code, diacritics}}")
    queries = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not str(entry.get("text", "")).strip() or not entry.get("code"):
            raise ValueError(f"{path}: entry {index} needs a text and a code: {entry!r}")
        codes = entry["code"] if isinstance(entry["code"], list) else [entry["code"]]
        queries.append(
            {"text": str(entry["text"]), "codes": [str(c) for c in codes], "diacritics": bool(entry.get("diacritics"))}
        )
    return queries


def _share(hits: int, total: int) -> Optional[float]:
    return round(hits / total, 4) if total else None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(queries: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Search every query once (after a short warm-up) and score the ranking."""
    started = time.perf_counter()
    from knowledge import link_decision, load_knowledge

    knowledge = load_knowledge()
    load_seconds = time.perf_counter() - started
    for query in queries[:WARM_UP]:
        knowledge.search(query["text"], k=k)

    groups: dict[str, dict[str, int]] = {
        name: {"n": 0, "top1": 0, "top3": 0} for name in ("with_diacritics", "without_diacritics", "all")
    }
    decisions = dict.fromkeys(DECISIONS, 0)
    latencies: list[float] = []
    misses = []
    for query in queries:
        before = time.perf_counter()
        hits = knowledge.search(query["text"], k=k)
        latencies.append((time.perf_counter() - before) * 1000)
        codes = [hit.code for hit in hits]
        top1 = bool(codes) and codes[0] in query["codes"]
        top3 = any(code in query["codes"] for code in codes[:3])
        for name in ("with_diacritics" if query["diacritics"] else "without_diacritics", "all"):
            groups[name]["n"] += 1
            groups[name]["top1"] += top1
            groups[name]["top3"] += top3
        decision = link_decision([hit.score for hit in hits])
        if decision == "confident":
            decisions["answered_right" if top1 else "answered_wrong"] += 1
        elif decision == "ambiguous":
            decisions["choice_with_gold" if top3 else "choice_without_gold"] += 1
        else:
            decisions["nothing_found"] += 1
        if not top1:
            misses.append({"text": query["text"], "expected": query["codes"], "got": [[h.code, h.score] for h in hits[:3]]})

    return {
        "queries": len(queries),
        "k": k,
        "accuracy": {
            name: {"n": g["n"], "top1": _share(g["top1"], g["n"]), "top3": _share(g["top3"], g["n"])}
            for name, g in groups.items()
        },
        "decisions": decisions,
        "latency_ms": {
            "mean": round(statistics.mean(latencies), 3),
            "p95": round(_percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3),
        },
        "load_seconds": round(load_seconds, 3),
        "procedures": len(knowledge),
        "guides": len(knowledge.guides),
        "misses": misses,
    }


def report(result: dict[str, Any]) -> str:
    """The figures as a small table."""

    def pct(value: Optional[float]) -> str:
        return "  n/a" if value is None else f"{100 * value:5.1f}%"

    lines = [f"{'':<20}{'n':>5}{'top-1':>9}{'top-3':>9}"]
    for name, label in (("with_diacritics", "with diacritics"), ("without_diacritics", "without diacritics"), ("all", "all")):
        row = result["accuracy"][name]
        lines.append(f"{label:<20}{row['n']:>5}{pct(row['top1']):>9}{pct(row['top3']):>9}")
    decisions = result["decisions"]
    lines.append("flows would: " + ", ".join(f"{name.replace('_', ' ')} {decisions[name]}" for name in DECISIONS))
    latency = result["latency_ms"]
    lines.append(f"latency per query: mean {latency['mean']:.2f} ms, p95 {latency['p95']:.2f} ms, max {latency['max']:.2f} ms")
    lines.append(f"load: {result['load_seconds']:.2f} s ({result['procedures']} procedures, {result['guides']} guides)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the benchmark and returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=QUERIES, help="query set (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results (default: %(default)s)")
    parser.add_argument("-k", type=int, default=3, help="hits asked per query (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.queries.is_file():
        print(f"no query set at {args.queries}: it is written separately (bench/data/search_queries.yml)", file=sys.stderr)
        return 2
    try:
        queries = read_queries(args.queries)
    except (ValueError, yaml.YAMLError) as error:
        print(f"malformed query set: {error}", file=sys.stderr)
        return 2
    result = run(queries, max(args.k, 3))
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"query_set": str(args.queries), **result}, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
