"""Validate every shipped knowledge file and report bad entries with file, line and field."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml
from pydantic import ValidationError

from ._documents import find_document
from ._importer import COVERAGE_FILE, code_key
from ._knowledge_base import read_vocabulary
from ._text import fold
from .errors import Problem
from .schema import Guide, Procedure

__all__ = ["check_knowledge", "display_path"]

Loc = Sequence[Union[str, int]]
# The C loader keeps node marks (line numbers) and is 30x faster than the Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def display_path(path: Path) -> Path:
    """The path relative to the working directory when possible (shorter reports)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _field_path(loc: Loc, leaf_is_scalar_item: bool) -> str:
    """("online_walkthrough", 2, "applies_to", 0) -> "online_walkthrough[2].applies_to"."""
    parts = list(loc)
    if leaf_is_scalar_item and parts and isinstance(parts[-1], int):
        parts = parts[:-1]  # the list is the field; the line points at the item
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Mapping[str, Any], value: Any) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "value_error.const" and "permitted" in context:
        allowed = ", ".join(str(v) for v in context["permitted"])
        return f"unknown value {context.get('given', value)!r} (allowed: {allowed})"
    if kind == "value_error.extra":
        return "unknown field"
    if kind == "value_error.missing":
        return "missing"
    return str(error.get("msg", "invalid"))


def _node_at(node: Optional[yaml.Node], loc: Loc) -> tuple[Optional[yaml.Node], int]:
    """The YAML node at ``loc`` (or its deepest existing parent) and how deep it got."""
    depth = 0
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node, depth = child, depth + 1
    return node, depth


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _validation_problems(
    path: Path, error: ValidationError, data: Any, root_node: Optional[yaml.Node], line: int = 0
) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if p != "__root__"]
        value = _value_at(data, loc)
        where = line
        if root_node is not None:
            node, _ = _node_at(root_node, loc)
            if node is not None:
                where = node.start_mark.line + 1
        scalar_item = bool(loc) and isinstance(loc[-1], int) and not isinstance(value, (dict, list))
        problems.append(Problem(path, where, _field_path(loc, scalar_item), _message(item, value)))
    return problems


def _line_of(root_node: Optional[yaml.Node], loc: Loc) -> int:
    node, _ = _node_at(root_node, loc)
    return node.start_mark.line + 1 if node is not None else 0


@lru_cache(maxsize=16)
def _validate_catalog_file(
    path: Path, mtime_ns: int, size: int
) -> tuple[list[tuple[int, str, str]], list[tuple[int, Procedure]]]:
    """(line, field, message) problems and (line, procedure) entries of one file.

    Cached per process while the file is unchanged: validating the whole
    catalog takes seconds, and tests check many guide variants against it.
    """
    problems: list[tuple[int, str, str]] = []
    entries: list[tuple[int, Procedure]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append((number, "", f"invalid JSON: {error.msg}"))
                continue
            try:
                entries.append((number, Procedure.parse_obj(data)))
            except ValidationError as error:
                problems += [(p.line, p.field, p.message) for p in _validation_problems(path, error, data, None, number)]
    return problems, entries


def _check_catalog(root: Path) -> tuple[list[Problem], dict[str, Procedure]]:
    problems: list[Problem] = []
    procedures: dict[str, Procedure] = {}
    where: dict[str, str] = {}
    files = sorted((root / "catalog").glob("*.jsonl"))
    if not files:
        problems.append(Problem(display_path(root / "catalog"), 0, "", "no catalog files (*.jsonl)"))
    for path in files:
        shown = display_path(path)
        stat = path.stat()
        found, entries = _validate_catalog_file(path.resolve(), stat.st_mtime_ns, stat.st_size)
        problems += [Problem(shown, number, field, message) for number, field, message in found]
        previous: tuple[int, ...] = ()
        for number, procedure in entries:
            if procedure.code in where:
                problems.append(Problem(shown, number, "code", f"{procedure.code} repeated (first at {where[procedure.code]})"))
            where[procedure.code] = f"{shown}:{number}"
            if procedure.ministry != path.stem:
                problems.append(Problem(shown, number, "ministry", f"{procedure.ministry!r} in file {path.name}"))
            key = code_key(procedure.code)
            if key < previous:
                problems.append(Problem(shown, number, "code", f"{procedure.code} out of order (files are sorted by code)"))
            previous = key
            procedures[procedure.code] = procedure
    coverage = root / "catalog" / COVERAGE_FILE
    if files:
        try:
            recorded = json.loads(coverage.read_text(encoding="utf-8")).get("records")
            if recorded != len(procedures):
                problems.append(
                    Problem(display_path(coverage), 0, "records", f"{recorded} but the catalog has {len(procedures)}")
                )
        except (OSError, json.JSONDecodeError, AttributeError) as error:
            problems.append(Problem(display_path(coverage), 0, "", f"unreadable coverage report: {error}"))
    return problems, procedures




def _check_guide(path: Path, procedures: dict[str, Procedure]) -> tuple[list[Problem], Optional[Guide], Any]:
    shown = display_path(path)
    text = path.read_text(encoding="utf-8")
    try:
        root_node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return [Problem(shown, mark.line + 1 if mark else 0, "", f"invalid YAML: {error}")], None, None
    if not isinstance(data, dict):
        return [Problem(shown, 1, "", "a guide is a mapping of fields")], None, None
    try:
        guide = Guide.parse_obj(data)
    except ValidationError as error:
        return _validation_problems(shown, error, data, root_node), None, None
    problems = []
    if guide.slug != path.stem:
        problems.append(Problem(shown, _line_of(root_node, ["slug"]), "slug", f"{guide.slug!r} but the file is {path.name}"))
    procedure = procedures.get(guide.code)
    if procedure is None:
        problems.append(Problem(shown, _line_of(root_node, ["code"]), "code", f"{guide.code} is not in the catalog"))
    else:
        problems += _check_against_record(shown, guide, procedure, root_node)
        for i, item in enumerate(guide.documents_to_prepare):
            if find_document(procedure, item.document) is None:
                problems.append(
                    Problem(
                        shown,
                        _line_of(root_node, ["documents_to_prepare", i, "document"]),
                        f"documents_to_prepare[{i}].document",
                        f"no document of {guide.code} has the key {item.document!r} (knowledge.document_key)",
                    )
                )
    for i, alias in enumerate(guide.aliases):
        if not fold(alias):
            problems.append(Problem(shown, _line_of(root_node, ["aliases", i]), f"aliases[{i}]", "empty alias"))
    return problems, guide, root_node


def _check_against_record(shown: Path, guide: Guide, procedure: Procedure, root_node: yaml.Node) -> list[Problem]:
    """The walkthrough may only describe ways of submitting the record offers."""
    problems = []
    offered = {"full": procedure.channel("online"), "partial": procedure.channel("online"), "postal": procedure.channel("postal")}
    channel_name = {"full": "online", "partial": "online", "postal": "postal"}
    for i, step in enumerate(guide.online_walkthrough):
        for mode in step.applies_to:
            if offered[mode] is None:
                problems.append(
                    Problem(
                        shown,
                        _line_of(root_node, ["online_walkthrough", i, "applies_to"]),
                        f"online_walkthrough[{i}].applies_to",
                        f"{mode!r} but {procedure.code} lists no {channel_name[mode]} channel",
                    )
                )
    if guide.postal_notes and offered["postal"] is None:
        problems.append(
            Problem(shown, _line_of(root_node, ["postal_notes"]), "postal_notes", f"{procedure.code} lists no postal channel")
        )
    level = procedure.online_level
    if level in ("full", "partial") and not guide.steps_for(level):
        problems.append(
            Problem(shown, _line_of(root_node, ["online_walkthrough"]), "online_walkthrough", f"no step for {level!r} online")
        )
    if not guide.online_walkthrough and not guide.in_person_notes:
        problems.append(Problem(shown, 1, "in_person_notes", "needed when there is no online walkthrough"))
    return problems


def _check_guides(root: Path, procedures: dict[str, Procedure]) -> list[Problem]:
    problems: list[Problem] = []
    owners: dict[str, tuple[str, Path]] = {}
    codes: dict[str, Path] = {}
    for path in sorted((root / "guides").glob("*.yml")):
        found, guide, root_node = _check_guide(path, procedures)
        problems.extend(found)
        if guide is None:
            continue
        shown = display_path(path)
        if guide.code in codes:
            problems.append(
                Problem(shown, _line_of(root_node, ["code"]), "code", f"{guide.code} already has {codes[guide.code].name}")
            )
        codes[guide.code] = path
        for i, alias in enumerate(guide.aliases):
            key = fold(alias)
            owner = owners.get(key)
            if owner and owner[0] != guide.code:
                problems.append(
                    Problem(
                        shown,
                        _line_of(root_node, ["aliases", i]),
                        f"aliases[{i}]",
                        f"{alias!r} is also an alias in {owner[1].name}",
                    )
                )
            owners.setdefault(key, (guide.code, path))
    return problems


def _check_vocabulary(root: Path) -> list[Problem]:
    problems = []
    files = [("abbreviations.yml", ("abbreviations", "synonyms")), ("fillers.yml", ("fillers",))]
    if (root / "acts.yml").exists():
        files.append(("acts.yml", ("acts",)))
    for name, sections in files:
        path = root / name
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
        except (OSError, yaml.YAMLError) as error:
            problems.append(Problem(display_path(path), 0, "", f"unreadable: {error}"))
            continue
        for section in sections:
            if section not in data:
                problems.append(Problem(display_path(path), 0, section, "missing"))
            elif name == "acts.yml" and not (isinstance(data[section], list)
                                             and all(isinstance(a, str) and a.strip() for a in data[section])):
                node = yaml.compose(path.read_text(encoding="utf-8"))
                problems.append(Problem(display_path(path), _line_of(node, [section]), section,
                                        "expected a list of phrases, e.g. `- chứng thực`"))
    if not problems:
        try:
            read_vocabulary(root)
        except ValueError as error:  # signals.yml: the message names the file and the section
            path = root / "signals.yml"
            section = "ages" if ": ages:" in str(error) else "signals"
            line = _line_of(yaml.compose(path.read_text(encoding="utf-8")), [section])
            problems.append(Problem(display_path(path), line, section, str(error).split(": ", 1)[-1]))
        except (AttributeError, TypeError) as error:
            problems.append(Problem(display_path(root / "abbreviations.yml"), 0, "", f"malformed: {error}"))
    return problems


def check_knowledge(root: Path) -> tuple[list[Problem], dict[str, int]]:
    """Every problem in the shipped files under ``root``, and what was checked."""
    problems, procedures = _check_catalog(root)
    problems += _check_guides(root, procedures)
    problems += _check_vocabulary(root)
    counts = {"procedures": len(procedures), "guides": len(list((root / "guides").glob("*.yml")))}
    return problems, counts
