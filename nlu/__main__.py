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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the model when its inputs changed")
    train.add_argument("--force", action="store_true", help="train even when up to date")
    train.add_argument("--model-dir")
    parse = sub.add_parser("parse", help="read lines on stdin, write one JSON line each")
    parse.add_argument("--model-dir")
    args = parser.parse_args(argv)
    if args.command == "train":
        from nlu.train import main as train_main

        return train_main(_model_dir(args.model_dir), args.force)
    if args.command == "parse":
        asyncio.run(_parse_lines(_model_dir(args.model_dir)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
