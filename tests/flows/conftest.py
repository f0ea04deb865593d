"""What the flow tests share: the knowledge base and the flow engine, loaded once for the package."""

from __future__ import annotations

import pytest

from flows.actions import registry
from flows.engine import FlowEngine
from flows.services import Services
from knowledge import KnowledgeBase, load_knowledge


@pytest.fixture(scope="package")
def knowledge() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture(scope="package")
def engine() -> FlowEngine:
    return FlowEngine.load(registry)


@pytest.fixture(scope="module")
def services(knowledge) -> Services:
    return Services(knowledge=knowledge)
