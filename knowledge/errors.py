"""Exceptions of the knowledge package.

KnowledgeError
├── CatalogImportError   the source catalog cannot be read or parsed
└── KnowledgeFileError   a shipped file (catalog line, guide) is invalid;
                         carries every problem with file, line and field
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["CatalogImportError", "KnowledgeError", "KnowledgeFileError", "Problem"]


class KnowledgeError(Exception):
    """Base class of every error raised by the knowledge package."""


class CatalogImportError(KnowledgeError):
    """The source catalog folder or one of its records cannot be imported."""


@dataclass(frozen=True)
class Problem:
    """One invalid entry: where it is and what is wrong."""

    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class KnowledgeFileError(KnowledgeError):
    """Shipped knowledge files are invalid; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:20])
        more = f"\n... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} invalid knowledge entries:\n{shown}{more}")
