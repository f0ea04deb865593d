"""Command line: import the catalog, search it, check the shipped files.

python -m knowledge import <catalog dir>
python -m knowledge search "<words>" [-k N] [--json]
python -m knowledge check
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from ._check import check_knowledge
from ._importer import CATALOG_DIR, import_catalog
from ._knowledge_base import KNOWLEDGE_ROOT, load_knowledge
from .errors import KnowledgeError


def _import(args: argparse.Namespace) -> int:
    """Parses every record of the catalog folder and rewrites knowledge/catalog/."""
    started = time.perf_counter()
    coverage = import_catalog(Path(args.catalog), Path(args.target))
    print(coverage.table())
    print(f"wrote {args.target} in {time.perf_counter() - started:.1f}s")
    return 0


def _search(args: argparse.Namespace) -> int:
    """Prints the best procedures for the words, as a table or JSON."""
    knowledge = load_knowledge(Path(args.root) if args.root else None)
    hits = knowledge.search(args.words, k=args.k)
    if args.json:
        print(json.dumps([{"code": h.code, "name": h.name, "score": h.score} for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        print("(no match)")
    else:
        for hit in hits:
            print(f"{hit.score:.3f}  {hit.code}  {hit.name}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Validates every shipped file; prints each bad entry as file:line: field: problem."""
    problems, counts = check_knowledge(Path(args.root) if args.root else KNOWLEDGE_ROOT)
    for problem in problems:
        print(problem)
    status = f"{len(problems)} problem(s)" if problems else "ok"
    print(f"checked {counts['procedures']} procedures, {counts['guides']} guides: {status}", file=sys.stderr)
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m knowledge`."""
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    importer = commands.add_parser("import", help="parse the catalog snapshot into knowledge/catalog/")
    importer.add_argument("catalog", help="folder with one sub-folder of *.json records per ministry")
    importer.add_argument("--target", default=str(CATALOG_DIR), help="output folder (default: %(default)s)")
    importer.set_defaults(run=_import)

    search = commands.add_parser("search", help="search procedures by name, alias or abbreviation")
    search.add_argument("words")
    search.add_argument("-k", type=int, default=5, help="number of results (default: %(default)s)")
    search.add_argument("--json", action="store_true", help="print a JSON list of {code, name, score}")
    search.add_argument("--root", help=argparse.SUPPRESS)
    search.set_defaults(run=_search)

    check = commands.add_parser("check", help="validate every shipped catalog line and guide")
    check.add_argument("--root", help="knowledge folder to check (default: the package)")
    check.set_defaults(run=_check)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs one command and returns its exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KnowledgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
