"""Fixtures for the knowledge tests: real record snippets and the shipped knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from knowledge import KnowledgeBase, load_knowledge

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def records() -> dict[str, dict[str, Any]]:
    """Fields of real catalog records (copied from the snapshot), by code."""
    return json.loads((FIXTURES / "records.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()
