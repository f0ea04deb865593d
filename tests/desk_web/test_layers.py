"""The desk is a front end of the same Assistant and services: it never reaches into a flow's helpers."""

from __future__ import annotations

import ast
from pathlib import Path

DESK = Path(__file__).resolve().parents[2] / "bot" / "desk_web"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_desk_page_imports_a_flow_action():
    reaching = {f"{path.name}: {module}" for path in sorted(DESK.glob("*.py")) for module in imported_modules(path)
                if module == "flows.actions" or module.startswith("flows.actions.")}
    assert not reaching, f"the desk reaches into the flows' actions: {sorted(reaching)}"


def test_the_fee_in_words_is_the_knowledge_packages_own():
    import knowledge
    from flows.actions.answers import sections

    assert "fee_value" in knowledge.__all__
    assert not hasattr(sections, "fee_value") or sections.fee_value is knowledge.fee_value
