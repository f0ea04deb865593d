"""Training data: the hand-written examples plus examples generated from the knowledge
base (templates x the names people use for each procedure, with and without diacritics)."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Iterator

import yaml

from knowledge import fold, load_knowledge

TEMPLATES = Path(__file__).resolve().parent / "templates.yml"
# Examples per (intent, template); kept small so training stays fast.
NAMES_PER_TEMPLATE = 6
# Official names can run to a hundred words; nobody types those into a chat, and a
# template filled with one teaches the classifier the name's words, not the question's.
MAX_NAME_WORDS = 9
SEED = 20261122


def _examples_of(path: Path) -> Iterator[tuple[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in raw.get("nlu", []):
        if "intent" in block:
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield block["intent"], line[2:].strip()


def generated_examples(seed: int = SEED) -> dict[str, list[str]]:
    """intent -> examples made from templates.yml and the knowledge base's procedure names."""
    if not TEMPLATES.exists():
        return {}
    templates = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8")) or {}
    kb = load_knowledge()
    names = sorted({n for g in kb.guides for n in kb.names_for(g.code) if len(n.split()) <= MAX_NAME_WORDS})
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for intent, lines in templates.items():
        seen: set[str] = set()
        for template in lines:
            for name in rng.sample(names, min(NAMES_PER_TEMPLATE, len(names))):
                text = template.format(procedure=name)
                # about a third of people type without diacritics
                if rng.random() < 0.35:
                    text = fold(text)
                if text not in seen:
                    seen.add(text)
                    out.setdefault(intent, []).append(text)
    return out


def write_training_data(source: Path, target: Path) -> dict[str, int]:
    """Copies the hand-written files and writes generated.yml beside them; returns counts."""
    target.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    for path in sorted(source.glob("*.yml")):
        shutil.copy(path, target / path.name)
        for intent, _ in _examples_of(path):
            counts[intent] += 1
    generated = generated_examples()
    blocks = [
        {"intent": intent, "examples": "".join(f"- {e}\n" for e in examples)}
        for intent, examples in sorted(generated.items())
    ]
    (target / "generated.yml").write_text(
        yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    n_generated = sum(len(v) for v in generated.values())
    for intent, examples in generated.items():
        counts[intent] += len(examples)
    return {"examples": sum(counts.values()), "intents": len(counts), "generated": n_generated}
