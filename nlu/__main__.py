"""python -m nlu train | parse | evaluate"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _model_dir(raw: str | None) -> Path:
    from bot.settings import Settings

    return Path(raw) if raw else Settings.load().model_path


async def _parse_lines(model_dir: Path) -> None:
    from nlu.model import NluModel

    model = NluModel.load(model_dir)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = await model.parse(text)
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)


def _evaluate_real(model_dir: Path, model_path: Path | None, data: Path, out: Path, examples: bool) -> int:
    from nlu.evaluate_real import evaluate_real, read_real, report_real
    from nlu.model import ModelMissingError, NluModel

    try:
        heldout = read_real(data)
        model = NluModel.load(model_dir, model_path)
    except (OSError, ValueError, ModelMissingError) as e:
        print(e, file=sys.stderr)
        return 2
    model.parse_sync("xin chào")  # the first parse pays for lazy imports
    result = {"data": str(data), "model": model.path.name, "load_seconds": round(model.load_seconds, 3),
              "examples": len(heldout), **evaluate_real(model, heldout, examples)}
    print(report_real(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _evaluate(model_dir: Path, model_path: Path | None, data: Path, out: Path, warm_up: int) -> int:
    from nlu.evaluate import latency_ms, predict, read_heldout, report, score
    from nlu.model import ModelMissingError, NluModel

    try:
        examples = read_heldout(data)
    except (OSError, ValueError) as e:
        print(f"cannot read the held-out set: {e}", file=sys.stderr)
        return 2
    try:
        model = NluModel.load(model_dir, model_path)
    except ModelMissingError as e:
        print(e, file=sys.stderr)
        return 2
    # The first parses pay for lazy imports and caches; latency is for a warm model.
    predict(model, [e.text for e in examples[:warm_up]])
    predictions = predict(model, [e.text for e in examples])
    result = {
        "data": str(data),
        "model": model.path.name,
        "load_seconds": round(model.load_seconds, 3),
        **score(examples, predictions),
        "latency_ms": latency_ms(predictions),
    }
    print(report(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the model when its inputs changed")
    train.add_argument("--force", action="store_true", help="train even when up to date")
    train.add_argument("--model-dir")
    parse = sub.add_parser("parse", help="read lines on stdin, write one JSON line each")
    parse.add_argument("--model-dir")
    evaluate = sub.add_parser("evaluate", help="score the model on the held-out set; print and write JSON")
    evaluate.add_argument("--data", type=Path, default=None, help="held-out YAML (default: bench/data/nlu_heldout.yml)")
    evaluate.add_argument("--out", type=Path, default=None, help="JSON results (default: bench/results/nlu_eval.json)")
    evaluate.add_argument("--warm-up", type=int, default=10, help="parses before timing (default: %(default)s)")
    evaluate.add_argument("--model-dir")
    evaluate.add_argument("--model", type=Path, default=None, help="a model archive (default: the current one)")
    evaluate.add_argument("--examples", action="store_true",
                          help="with a set of acts and aspects (nlu_heldout_real.yml): show example texts of each confusion")
    args = parser.parse_args(argv)
    if args.command == "train":
        from nlu.train import main as train_main

        return train_main(_model_dir(args.model_dir), args.force)
    if args.command == "parse":
        asyncio.run(_parse_lines(_model_dir(args.model_dir)))
        return 0
    if args.command == "evaluate":
        from nlu.evaluate import HELDOUT, RESULTS
        from nlu.evaluate_real import is_real_format

        data = args.data or HELDOUT
        try:
            real = is_real_format(data)
        except OSError as e:
            print(f"cannot read the held-out set: {e}", file=sys.stderr)
            return 2
        if real:
            out = args.out or RESULTS.with_name("nlu_eval_real.json")
            return _evaluate_real(_model_dir(args.model_dir), args.model, data, out, args.examples)
        return _evaluate(_model_dir(args.model_dir), args.model, args.data or HELDOUT, args.out or RESULTS, args.warm_up)
    return 2


if __name__ == "__main__":
    sys.exit(main())
