"""Re-import the whole national catalog (only where the snapshot is available)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from knowledge._importer import COVERAGE_FIELDS, import_catalog
from knowledge._knowledge_base import KNOWLEDGE_ROOT

SOURCE = Path(os.environ.get("TTHC_CATALOG", Path(__file__).resolve().parents[2].parent / "shared/data/tthc-catalog"))

# Records yielding each field when this parser was written (2,642 records).
MEASURED = {
    "channels": 2642,
    "times": 2504,
    "time_units": 2159,
    "fees": 2261,
    "fee_amounts": 504,
    "documents": 2618,
    "document_quantities": 2583,
    "document_templates": 1172,
    "legal_references": 2561,
    "legal_numbers": 2548,
    "steps": 2642,
    "conditions": 773,
    "result": 2624,
    "online_level": 2642,
    "online_level_stated": 24,
}


@pytest.mark.skipif(not SOURCE.is_dir(), reason=f"catalog snapshot not available at {SOURCE}")
def test_reimport_keeps_coverage_and_matches_the_shipped_files(tmp_path):
    coverage = import_catalog(SOURCE, tmp_path)
    assert coverage.records == 2642
    assert set(MEASURED) == set(COVERAGE_FIELDS)
    below = {name: (coverage.counts[name], floor) for name, floor in MEASURED.items() if coverage.counts[name] < floor}
    assert below == {}
    shipped = KNOWLEDGE_ROOT / "catalog"
    stale = [p.name for p in sorted(shipped.glob("*.jsonl")) if p.read_bytes() != (tmp_path / p.name).read_bytes()]
    assert stale == [], "shipped catalog is out of date: run python -m knowledge import <catalog dir>"
    assert json.loads((tmp_path / "COVERAGE.json").read_text()) == json.loads((shipped / "COVERAGE.json").read_text())
