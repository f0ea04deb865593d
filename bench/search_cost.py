"""How the procedure search's cost grows with the message: time and counted work versus length.

    .venv/bin/python bench/search_cost.py [--nlu] [--repeat 3] [--out bench/results/search_cost.json]

For messages built to be hard (a synonym phrase repeated, every synonym phrase at once,
long stories, catalog names run together, typos, text typed decomposed) cut at
40 to 1,000 characters (MAX_NLU_CHARS), prints per message: its words, distinct synonym
phrases, the readings the old search would have enumerated ("ways": one choice per
occurrence, 2**16 for "cưới " x 16), the synonym choices tried and readings kept now, and
the search time (best of --repeat). With --nlu the trained model's whole parse is timed
too (normaliser, classifier, and the linker's search of the message and each clause).
Writes the rows to bench/results/search_cost.json. Exit status 0; 2 when --nlu finds no model.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "search_cost.json"
LENGTHS = (40, 80, 160, 320, 640, 1000)
REPEATED = ("cưới ", "giấy khai sinh ", "sổ đỏ, ", "lấy vợ lấy chồng ", "hộ khẩu nhập khẩu ")
# A citizen's long message, the shape the linker reads clause by clause.
STORY = (
    "Chào anh chị, bố em mới mất tuần trước ở bệnh viện tỉnh, giờ em muốn làm giấy chứng tử cho bố, "
    "rồi sang tên sổ đỏ mảnh đất ở quê cho mẹ, mà em đang ở Hà Nội, hộ khẩu thì vẫn ở quê. "
    "Em cũng sắp cưới, vợ em là người nước ngoài, nên cần giấy xác nhận độc thân và làm lại căn cước. "
    "Cho em hỏi cần mang những giấy tờ gì, nộp ở đâu, mất mấy ngày và lệ phí bao nhiêu ạ? "
)


def _cut(text: str, chars: int) -> str:
    return (text * (chars // max(len(text), 1) + 1))[:chars]


def messages(kb: Any) -> list[tuple[str, int, str]]:
    """(kind, length, text) for every hard message."""
    index = kb.index
    keys = [" ".join(key) for key in index._synonym_readings]
    names = [p.name for p in kb.procedures]
    rng = random.Random(14)
    typos = " ".join(
        "".join(rng.choice("abcdeghiklmnopqrstuvxy") for _ in range(rng.randint(3, 7))) for _ in range(400)
    )
    kinds: dict[str, str] = {f"repeat {phrase.strip()!r}": phrase for phrase in REPEATED}
    kinds.update({
        "all synonym phrases": " ".join(keys),
        "all synonym phrases, commas": ", ".join(keys),
        "long story": STORY,
        "catalog names run on": " ".join(names),
        "catalog names, sentences": ". ".join(names),
        "typos": typos,
        "decomposed (NFD) story": unicodedata.normalize("NFD", STORY),
    })
    return [(kind, n, _cut(text, n)) for kind, text in kinds.items() for n in LENGTHS]


def old_ways(index: Any, text: str) -> int:
    """Readings the search enumerated before issue 14: one choice per occurrence of a synonym phrase."""
    from knowledge._text import marked_tokens

    words = index._abbreviations.apply([(t, None if f == t else f) for t, f in marked_tokens(text)])
    ways, i = 1, 0
    while i < len(words):
        key = index._synonyms.find(words, i)
        if key:
            ways *= 1 + len(index._synonym_readings[key])
            i += len(key)
        else:
            i += 1
    return ways


def _best_time(run: Callable[[str], Any], text: str, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _ways(ways: int) -> str:
    return str(ways) if ways < 10**6 else f"2^{math.log2(ways):.0f}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlu", action="store_true", help="time the trained model's whole parse too")
    parser.add_argument("--repeat", type=int, default=3, help="runs per message; the best is kept (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON rows (default: %(default)s)")
    args = parser.parse_args(argv)
    from knowledge import load_knowledge

    kb = load_knowledge()
    model = None
    if args.nlu:
        from bot.settings import Settings
        from nlu.model import ModelMissingError, NluModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = NluModel.load(Settings.load(environ={}, env_file=None).model_path)
            except ModelMissingError as error:
                print(error, file=sys.stderr)
                return 2
        model.parse_sync("xin chào")
    kb.search("xin chào")
    rows: list[dict[str, Any]] = []
    header = f"{'message':30} {'chars':>5} {'words':>5} {'syn':>4} {'old ways':>9} {'tried':>5} {'read':>4} {'search ms':>9}"
    print(header + (f" {'parse ms':>8}" if model else ""))
    for kind, _, text in messages(kb):
        work = kb.index.work(text)
        row = {"message": kind, "chars": len(text), **work, "old_ways": old_ways(kb.index, text)}
        row["search_ms"] = round(_best_time(kb.search, text, args.repeat), 2)
        if model is not None:
            row["parse_ms"] = round(_best_time(model.parse_sync, text, args.repeat), 2)
        rows.append(row)
        line = (
            f"{kind[:30]:30} {row['chars']:5} {work['words']:5} {work['synonyms']:4} {_ways(row['old_ways']):>9} "
            f"{work['combinations']:5} {work['readings']:4} {row['search_ms']:9.1f}"
        )
        print(line + (f" {row['parse_ms']:8.1f}" if model is not None else ""), flush=True)
    worst = max(rows, key=lambda r: r["search_ms"])
    print(f"slowest search: {worst['message']} at {worst['chars']} chars, {worst['search_ms']:.1f} ms")
    if model is not None:
        worst = max(rows, key=lambda r: r["parse_ms"])
        print(f"slowest parse: {worst['message']} at {worst['chars']} chars, {worst['parse_ms']:.1f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
