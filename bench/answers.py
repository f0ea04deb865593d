"""First answers as a new user gets them: right procedure and aspect first time, clarified, wrong; screen size.

    .venv/bin/python bench/answers.py [--messages bench/data/answers_first_messages.yml] [--out PATH] [--show N]

Starts the real web app in this process (the trained model, a temporary SQLite database) on a
loopback port, sends every first message of the set as a new user over POST /api/chat, and scores
the turn against the item's acceptable procedures and asked aspects:

- right: the answer is about an acceptable procedure (slot `procedure_code`) and covers every aspect
  asked (slot `procedure_aspect`, comma-separated; the online walkthrough counts as `online`);
  for an out-of-scope item (`procedures: []`), right when no procedure is answered.
- clarified: no answer yet, but the buttons offer a right procedure.
- wrong: anything else.

Characters before the buttons: the text of the replies up to the first one that carries buttons.
Prints totals, per register and per diacritics, the misses, and writes bench/results/answers.json.
The message set (items of text, procedures, aspects, register, diacritics, two_questions) is written by
someone who did not write the training data or the guides: do not tune on it.
Exit status: 0 done, 2 the set is missing or malformed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MESSAGES = ROOT / "bench" / "data" / "answers_first_messages.yml"
RESULTS = ROOT / "bench" / "results" / "answers.json"
_CODE = re.compile(r'"procedure"\s*:\s*"(\d+\.\d{6})"')


def load_items(path: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SystemExit(f"{path}: unreadable message set: {error}") from error
    items = data.get("items", data) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise SystemExit(f"{path}: expected a list of items (text, procedures, aspects, ...)")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or "procedures" not in item:
            raise SystemExit(f"{path}: item {i} needs 'text' and 'procedures'")
    return items


def screen_chars(turn: dict[str, Any]) -> int:
    """Characters of text a person reads before the first buttons of the turn."""
    total = 0
    for reply in turn.get("replies", []):
        total += len(reply.get("text", ""))
        if reply.get("buttons"):
            break
    return total


def answered(turn: dict[str, Any]) -> tuple[str | None, set[str]]:
    """The procedure answered about and the aspects the answer covers (none when nothing was answered)."""
    slots = turn.get("slots") or {}
    started = set(turn.get("started") or []) | set(turn.get("completed") or [])
    code = slots.get("procedure_code")
    aspects: set[str] = set()
    if "procedure_info" in (turn.get("completed") or []):
        aspects |= {a for a in str(slots.get("procedure_aspect") or "").split(",") if a}
    if "online_submission" in started and slots.get("procedure_code"):
        aspects.add("online")
    if not aspects:
        code = None
    return code, aspects


def score(item: dict[str, Any], turn: dict[str, Any]) -> str:
    acceptable = {str(c) for c in item.get("procedures") or []}
    asked = {str(a) for a in item.get("aspects") or []}
    code, aspects = answered(turn)
    if not acceptable:
        return "right" if code is None else "wrong"
    if code in acceptable and asked <= aspects:
        return "right"
    offered = {c for reply in turn.get("replies", []) for b in reply.get("buttons", []) for c in _CODE.findall(b["payload"])}
    if code is None and offered & acceptable:
        return "clarified"
    return "wrong"


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    right = sum(r["outcome"] == "right" for r in rows)
    clarified = sum(r["outcome"] == "clarified" for r in rows)
    chars = sorted(r["chars"] for r in rows)
    p90 = chars[min(len(chars) - 1, int(0.9 * len(chars)))] if chars else 0
    return {
        "messages": n,
        "right_first_time": percent(right, n),
        "right_or_clarified": percent(right + clarified, n),
        "clarified": percent(clarified, n),
        "wrong": percent(n - right - clarified, n),
        "chars_median": int(statistics.median(chars)) if chars else 0,
        "chars_p90": p90,
        "chars_max": chars[-1] if chars else 0,
        "over_700": sum(c > 700 for c in chars),
        "over_1000": sum(c > 1000 for c in chars),
    }


async def run(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from aiohttp import ClientSession, web

    from bot.runtime import build_assistant
    from bot.settings import Settings
    from bot.web import create_app

    database = Path(tempfile.mkdtemp(prefix="bench-answers-")) / "bench.db"
    # The bench is a front end of its own (an API key), allowed to read a turn's slots to score it.
    key = secrets.token_urlsafe(32)
    settings = Settings.load(environ={"DATABASE_URL": f"sqlite:///{database}", "API_KEYS": f"bench:{key}:slots"},
                             env_file=None)
    assistant = build_assistant(settings)
    runner = web.AppRunner(create_app(assistant, settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rows = []
    try:
        async with ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            for i, item in enumerate(items):
                started = time.perf_counter()
                body = {"user": f"bench-{i}", "text": item["text"], "slots": True}
                async with http.post(f"http://127.0.0.1:{port}/api/chat", json=body) as r:
                    turn = await r.json()
                rows.append({
                    "text": item["text"],
                    "procedures": item.get("procedures") or [],
                    "aspects": item.get("aspects") or [],
                    "register": str(item.get("register", "?")),
                    "diacritics": bool(item.get("diacritics", True)),
                    "two_questions": bool(item.get("two_questions", False)),
                    "outcome": score(item, turn),
                    "intent": turn.get("intent"),
                    "flow": (turn.get("started") or [None])[0],
                    "answered": answered(turn)[0],
                    "answered_aspects": sorted(answered(turn)[1]),
                    "chars": screen_chars(turn),
                    "seconds": round(time.perf_counter() - started, 3),
                    "first_reply": (turn.get("replies") or [{}])[0].get("text", "")[:300],
                })
    finally:
        await runner.cleanup()
    return rows


def breakdown(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row[key])].append(row)
    return {name: summary(group) for name, group in sorted(groups.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default=str(MESSAGES), help="the message set (default: %(default)s)")
    parser.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    parser.add_argument("--show", type=int, default=40, help="misses to print (default: %(default)s)")
    args = parser.parse_args(argv)
    path = Path(args.messages)
    if not path.is_file():
        print(f"{path}: no message set", file=sys.stderr)
        return 2
    try:
        items = load_items(path)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    rows = asyncio.run(run(items))
    report = {
        "total": summary(rows),
        "by_register": breakdown(rows, "register"),
        "by_diacritics": breakdown(rows, "diacritics"),
        "by_two_questions": breakdown(rows, "two_questions"),
        "messages": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    columns = ("messages", "right_first_time", "right_or_clarified", "wrong", "chars_median", "chars_p90", "chars_max",
               "over_1000")
    print("group".ljust(24) + "".join(c[:14].rjust(16) for c in columns))
    for name, figures in [("total", report["total"]),
                          *((f"register={k}", v) for k, v in report["by_register"].items()),
                          *((f"diacritics={k}", v) for k, v in report["by_diacritics"].items()),
                          *((f"two_questions={k}", v) for k, v in report["by_two_questions"].items())]:
        print(name[:24].ljust(24) + "".join(str(figures[c]).rjust(16) for c in columns))
    misses = [r for r in rows if r["outcome"] != "right"]
    for row in misses[: args.show]:
        print(f"- {row['outcome']:9} {row['text'][:70]!r} want {row['procedures']} {row['aspects']}"
              f" got {row['answered']} {row['answered_aspects']} ({row['chars']} chars)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
