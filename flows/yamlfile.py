"""YAML loading that remembers where each mapping came from, for precise errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A YAML file that cannot be read or parsed; the message names file and line."""


class LineDict(dict):
    """A mapping from YAML that knows its file and 1-based line."""

    file: str = "?"
    line: int = 0

    def where(self, key: str | None = None) -> str:
        line = getattr(self, "key_lines", {}).get(key, self.line) if key else self.line
        return f"{self.file}:{line}"


def _loader_for(file: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        result = LineDict()
        result.file = file
        result.line = node.start_mark.line + 1
        result.key_lines = {}  # type: ignore[attr-defined]
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1  # type: ignore[attr-defined]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_yaml(path: Path, root: Path | None = None) -> Any:
    """Parses a YAML file; errors say `file:line: what`."""
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise YamlFileError(f"{shown}: cannot read: {e}") from e
    try:
        return yaml.load(text, Loader=_loader_for(shown))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlFileError(f"{shown}:{line}: invalid YAML: {e.problem or e}") from e
