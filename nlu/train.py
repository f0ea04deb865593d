"""Training: the model is named by a hash of everything it is made from, so it is
retrained only when config.yml, nlu/ or the knowledge it links to changed."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yml"
DATA_DIR = ROOT / "nlu" / "data"
KEEP_MODELS = 3
log = logging.getLogger(__name__)

# The knowledge base the procedure linker freezes into the model (code included:
# the linker pickles the search index).
KNOWLEDGE_INPUTS = (
    ("knowledge", "**/*.py"),
    ("knowledge", "**/*.yml"),
    ("knowledge", "**/*.jsonl"),
)
# What a model is made from: changing any of these makes it stale.
_INPUTS = (
    ("config.yml", "*"),
    ("requirements.lock", "*"),
    ("nlu", "**/*.py"),
    ("nlu", "**/*.yml"),
    *KNOWLEDGE_INPUTS,
)
# Code that reads or scores a model but is not part of it: editing it keeps the model fresh.
_NOT_INPUTS = frozenset({"nlu/__main__.py", "nlu/evaluate.py", "nlu/evaluate_real.py"})


def fingerprint(root: Path = ROOT, inputs: tuple[tuple[str, str], ...] = _INPUTS) -> str:
    """A short hash of the files the inputs name (base folder or file, glob pattern)."""
    digest = hashlib.sha256()
    for base, pattern in inputs:
        path = root / base
        files = [path] if pattern == "*" else sorted(p for p in path.glob(pattern) if "__pycache__" not in p.parts)
        for file in files:
            if file.is_file() and file.relative_to(root).as_posix() not in _NOT_INPUTS:
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_file(model_dir: Path, root: Path = ROOT) -> Path:
    return model_dir / f"nlu-{fingerprint(root)}.tar.gz"


def train(model_dir: Path, force: bool = False) -> Path:
    """Trains when the current inputs have no model yet; returns the model's path."""
    target = model_file(model_dir)
    if target.exists() and not force:
        print(f"NLU model is up to date: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    work = model_dir / f".build-{target.name[4:-7]}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    started = time.monotonic()
    print("Preparing NLU training data...", flush=True)
    from nlu.generate import write_training_data

    counts = write_training_data(DATA_DIR, work / "data")
    print(f"  {counts['examples']} examples for {counts['intents']} intents "
          f"({counts['generated']} generated from the knowledge base)", flush=True)
    print("Training the NLU model (Rasa)... this takes about a minute", flush=True)
    from rasa.model_training import train_nlu

    out = train_nlu(str(CONFIG), str(work / "data"), str(work), fixed_model_name="model")
    if not out:
        raise RuntimeError("Rasa did not produce a model; see the messages above")
    Path(out).replace(target)
    shutil.rmtree(work, ignore_errors=True)
    for old in sorted(model_dir.glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-KEEP_MODELS]:
        old.unlink()
    print(f"NLU model trained in {time.monotonic() - started:.0f} s: {target}", flush=True)
    return target


def main(model_dir: Path, force: bool) -> int:
    try:
        train(model_dir, force)
    except Exception as e:  # a failed training must say why, not just die
        print(f"NLU training failed: {e}", file=sys.stderr)
        raise
    return 0
