"""Compare NLU pipelines on the held-out set: accuracy, training, cold start, latency, memory.

    .venv/bin/python bench/nlu_pipelines.py [--pipelines tf_free,diet] [--diet-epochs 40]

For each pipeline (the TensorFlow-free one in config.yml, and the same pipeline with
DIETClassifier in place of the logistic regression: same normaliser, tokenizer,
featurisers, dossier-code extractor and procedure linker) it

1. trains a model on the same training data in a fresh process with an empty Rasa
   cache (training time = the `train_nlu` call);
2. loads it in fresh processes (`--repeats`, median reported): the time
   `NluModel.load` takes, and the time from spawning the process until the model
   answers (interpreter start and imports included);
3. parses the held-out set once after a warm-up, timing each parse (p50 / p95), and
   scores it with nlu/evaluate.py (intent accuracy, macro F1, by diacritics, procedure
   top-1 / top-3);
4. reads the peak resident memory of that loading + parsing process.

Writes bench/results/nlu_pipelines.json and nlu_pipelines.md (the table for the
README) and prints the table. The machine is shared: the load average at start and
end is recorded beside the figures. Exit status: 0 done, 2 a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "config.yml"
RESULTS = ROOT / "bench" / "results"
HELDOUT = ROOT / "bench" / "data" / "nlu_heldout.yml"
CLASSIFIER = "nlu.components.intent_classifier.ArrayLogisticRegressionClassifier"
WARM_UP = 10
PIPELINES = ("tf_free", "diet")


def pipeline_config(name: str, diet_epochs: int) -> dict[str, Any]:
    """config.yml as is (tf_free), or with DIET in place of the intent classifier (diet)."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    if name == "tf_free":
        return config
    if name != "diet":
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}")
    steps = []
    for step in config["pipeline"]:
        if step["name"] == CLASSIFIER:
            # Intent only: dossier codes and procedures have their own components.
            step = {
                "name": "DIETClassifier",
                "epochs": diet_epochs,
                "entity_recognition": False,
                "constrain_similarities": True,
                "ranking_length": 5,
                "random_seed": 42,
            }
        steps.append(step)
    return {**config, "pipeline": steps}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _worker(args: list[str], env: dict[str, str], timeout: float) -> tuple[dict[str, Any], float]:
    """Runs this script as a worker in a fresh interpreter; its last stdout line is JSON,
    to which the worker's total CPU time is added."""
    spawned, cpu_before = time.time(), _cpu_of_children()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_cpu_seconds"] = round(_cpu_of_children() - cpu_before, 2)
    return figures, spawned


def worker_train(config: Path, data: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    from rasa.model_training import train_nlu

    imported = time.perf_counter()
    model = train_nlu(str(config), str(data), str(out), fixed_model_name="model")
    if not model:
        raise RuntimeError("Rasa did not produce a model")
    return {
        "model": model,
        "train_seconds": round(time.perf_counter() - imported, 2),
        "with_imports_seconds": round(time.perf_counter() - started, 2),
    }


def worker_evaluate(model_path: Path, heldout: Path, parse: bool) -> dict[str, Any]:
    from nlu.evaluate import latency_ms, predict, read_heldout, score
    from nlu.model import NluModel

    examples = read_heldout(heldout)
    model = NluModel.load(model_path.parent, model_path)
    model.parse_sync(examples[0].text)
    ready_at = time.time()
    result: dict[str, Any] = {
        "load_seconds": round(model.load_seconds, 3),
        "ready_at": ready_at,
        # interpreter start, imports, load and the first parse: what a cold start costs in CPU
        "ready_cpu_seconds": round(time.process_time(), 2),
    }
    if parse:
        predict(model, [e.text for e in examples[:WARM_UP]])
        predictions = predict(model, [e.text for e in examples])
        result.update(score(examples, predictions))
        result["latency_ms"] = latency_ms(predictions)
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def run_pipeline(name: str, diet_epochs: int, repeats: int, heldout: Path, work: Path) -> dict[str, Any]:
    """Train, load and evaluate one pipeline; the figures for its row."""
    from nlu.generate import write_training_data
    from nlu.train import DATA_DIR

    env = _environment()
    folder = work / name
    folder.mkdir(parents=True)
    config = folder / "config.yml"
    config.write_text(yaml.safe_dump(pipeline_config(name, diet_epochs), allow_unicode=True, sort_keys=False))
    counts = write_training_data(DATA_DIR, folder / "data")
    # An empty cache: a warm one would reuse earlier training and time nothing.
    env["RASA_CACHE_DIRECTORY"] = str(folder / "cache")
    print(f"[{name}] training on {counts['examples']} examples...", flush=True)
    trained, _ = _worker(["train", str(config), str(folder / "data"), str(folder / "model")], env, timeout=3600)
    model = Path(trained["model"])
    loads, ready, ready_cpu = [], [], []
    evaluated: dict[str, Any] = {}
    for attempt in range(repeats):
        print(f"[{name}] loading and parsing ({attempt + 1}/{repeats})...", flush=True)
        figures, spawned = _worker(["evaluate", str(model), str(heldout), "parse" if attempt == 0 else "load"], env, 900)
        loads.append(figures["load_seconds"])
        ready.append(figures["ready_at"] - spawned)
        ready_cpu.append(figures["ready_cpu_seconds"])
        if attempt == 0:
            evaluated = figures
    return {
        "pipeline": name,
        "config": yaml.safe_load(config.read_text()),
        "training_examples": counts["examples"],
        "train_seconds": trained["train_seconds"],
        "train_process_cpu_seconds": trained["process_cpu_seconds"],
        "load_seconds": round(statistics.median(loads), 2),
        "load_seconds_runs": loads,
        "ready_seconds": round(statistics.median(ready), 2),
        "ready_cpu_seconds": round(statistics.median(ready_cpu), 2),
        "model_mb": round(model.stat().st_size / 1e6, 2),
        **{k: v for k, v in evaluated.items() if k not in ("load_seconds", "ready_at", "ready_cpu_seconds")},
    }


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: one column per pipeline."""
    lines = [
        "| | " + " | ".join(r["pipeline"] for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]

    def line(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in rows) + " |")

    line("intent accuracy", lambda r: _pct(r["all"]["intent_accuracy"]))
    line("macro F1", lambda r: f"{r['all']['macro_f1']:.3f}")
    line("accuracy with / without diacritics", lambda r: (
        f"{_pct(r['with_diacritics']['intent_accuracy'])} / {_pct(r['without_diacritics']['intent_accuracy'])}"))
    line("no-diacritics gap (points)", lambda r: f"{100 * r['no_diacritics_gap']:+.1f}")
    line("procedure top-1 / top-3", lambda r: f"{_pct(r['all']['procedure']['top1'])} / {_pct(r['all']['procedure']['top3'])}")
    line("training (wall; CPU of the process)", lambda r: f"{r['train_seconds']:.0f} s; {r['train_process_cpu_seconds']:.0f} s")
    line("model load (`NluModel.load`, wall)", lambda r: f"{r['load_seconds']:.1f} s")
    line("process start to first answer (wall; CPU)", lambda r: f"{r['ready_seconds']:.1f} s; {r['ready_cpu_seconds']:.1f} s")
    line("parse p50 / p95 (wall)", lambda r: f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p95']:.1f} ms")
    line("parse p50 / p95 (CPU)", lambda r: f"{r['latency_ms']['cpu_p50']:.1f} / {r['latency_ms']['cpu_p95']:.1f} ms")
    line("peak RSS (load + parse)", lambda r: f"{r['peak_rss_mb']:.0f} MB")
    line("TensorFlow imported", lambda r: "yes" if r["tensorflow_imported"] else "no")
    line("model archive", lambda r: f"{r['model_mb']:.1f} MB")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the comparison (or, with --worker, one step of it) and returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        step, *rest = argv[1:]
        if step == "train":
            out = worker_train(Path(rest[0]), Path(rest[1]), Path(rest[2]))
        else:
            out = worker_evaluate(Path(rest[0]), Path(rest[1]), parse=rest[2] == "parse")
        print(json.dumps(out))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="comma-separated (default: %(default)s)")
    parser.add_argument("--diet-epochs", type=int, default=40, help="DIET training epochs (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process loads per pipeline (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=HELDOUT, help="held-out set (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the JSON and markdown go")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no held-out set at {args.data}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="nlu-bench-"))
    rows = []
    try:
        for name in names:
            rows.append(run_pipeline(name, args.diet_epochs, max(1, args.repeats), args.data, work))
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_start": [round(v, 2) for v in load_before],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "python": sys.version.split()[0],
    }
    markdown = table(rows)
    note = (f"\n\nHeld-out set: {args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data}; "
            f"{machine['cpus']} CPUs, load average {machine['load_average_start'][0]} at start, "
            f"{machine['load_average_end'][0]} at end.\n")
    print(markdown + note)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "nlu_pipelines.md").write_text(markdown + note, encoding="utf-8")
    (args.out_dir / "nlu_pipelines.json").write_text(
        json.dumps({"machine": machine, "pipelines": rows}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out_dir / 'nlu_pipelines.json'} and nlu_pipelines.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
