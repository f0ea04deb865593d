"""Import the national catalog snapshot into the shipped files under knowledge/catalog/.

One JSON-lines file per ministry folder, one procedure per line, sorted by
code; the page text (raw_text) is not shipped. Parse coverage per field is
printed and written to knowledge/catalog/COVERAGE.json.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from . import _parse
from ._text import clean_text
from .errors import CatalogImportError
from .schema import Procedure

__all__ = ["CATALOG_DATE", "CATALOG_DIR", "COVERAGE_FIELDS", "Coverage", "import_catalog", "procedure_from_record"]

logger = logging.getLogger(__name__)

# The month of the snapshot. The catalog README says "captured in mid-2026"; the
# newest act the records cite was issued on 19/5/2026, so June 2026 it is.
CATALOG_DATE = "2026-06"
CATALOG_DIR = Path(__file__).parent / "catalog"
COVERAGE_FILE = "COVERAGE.json"


def code_key(code: str) -> tuple[int, ...]:
    """Sort "1.000080" before "1.000094" before "2.000012"."""
    return tuple(int(part) for part in code.split("."))


def procedure_from_record(record: dict[str, Any], ministry: str) -> Procedure:
    """Parse one catalog record (the JSON of one procedure page)."""
    documents_text = record.get("thanh_phan_ho_so", "")
    steps_text = record.get("trinh_tu_thuc_hien", "")
    if _parse.DOCUMENT_HEADER not in documents_text:
        # The record's fields were cut at a "(Thành phần hồ sơ)" inside the steps:
        # take both sections from the page text instead.
        page = _parse.page_sections(record.get("raw_text", ""))
        if _parse.DOCUMENT_HEADER in page.get("documents", ""):
            documents_text, steps_text = page["documents"], page["steps"]
            logger.info("%s: documents and steps taken from the page text", record.get("ma_thu_tuc"))
    channels = _parse.parse_channels(record.get("cach_thuc_thuc_hien", ""))
    level, basis, evidence = _parse.parse_online_level(record.get("ten_thu_tuc", ""), steps_text, channels)
    unknown_levels = [
        part.strip() for part in record.get("cap_thuc_hien", "").split(",") if part.strip() and part.strip() not in _parse.LEVELS
    ]
    if unknown_levels:
        logger.warning("%s: unknown cap_thuc_hien %s", record.get("ma_thu_tuc"), unknown_levels)
    data = {
        "code": record["ma_thu_tuc"].strip(),
        "name": clean_text(record.get("ten_thu_tuc", "")),
        "field": clean_text(record.get("linh_vuc", "")),
        "levels": _parse.parse_levels(record.get("cap_thuc_hien", "")),
        "audience": _parse.parse_audience(record.get("doi_tuong_thuc_hien", "")),
        "agencies": {
            "implementing": clean_text(record.get("co_quan_thuc_hien", "")),
            "competent": clean_text(record.get("co_quan_co_tham_quyen", "")),
            "authorised": clean_text(record.get("co_quan_duoc_uy_quyen", "")),
            "coordinating": clean_text(record.get("co_quan_phoi_hop", "")),
            "submission_address": clean_text(record.get("dia_chi_tiep_nhan", "")),
        },
        "channels": channels,
        "documents": _parse.parse_documents(documents_text),
        "steps": _parse.parse_steps(steps_text),
        "conditions": _parse.parse_conditions(record.get("yeu_cau_dieu_kien", "")),
        "result": _parse.parse_result(record.get("ket_qua_xu_ly", "")),
        "legal_basis": _parse.parse_legal_basis(record.get("can_cu_phap_ly", "")),
        "online_level": level,
        "online_level_basis": basis,
        "online_level_evidence": evidence,
        "source_url": record.get("detail_url", "").strip(),
        "catalog_date": CATALOG_DATE,
        "decision": clean_text(record.get("so_quyet_dinh", "")),
        "kind": clean_text(record.get("loai_thu_tuc", "")),
        "ministry": ministry,
    }
    return Procedure.parse_obj(data)


# What the coverage report counts: a record "yields" a field when the test holds.
COVERAGE_FIELDS: dict[str, Callable[[Procedure], bool]] = {
    "channels": lambda p: bool(p.channels),
    "times": lambda p: any(c.time.value is not None for c in p.channels),
    "time_units": lambda p: any(c.time.unit is not None for c in p.channels),
    "fees": lambda p: bool(p.channels) and all(c.fee.kind != "unknown" for c in p.channels),
    "fee_amounts": lambda p: any(c.fee.amounts for c in p.channels),
    "documents": lambda p: bool(p.documents),
    "document_quantities": lambda p: any(d.quantity for d in p.documents),
    "document_templates": lambda p: any(d.template for d in p.documents),
    "legal_references": lambda p: bool(p.legal_basis),
    "legal_numbers": lambda p: any(ref.number for ref in p.legal_basis),
    "steps": lambda p: bool(p.steps),
    "conditions": lambda p: bool(p.conditions),
    "result": lambda p: bool(p.result),
    "online_level": lambda p: p.online_level != "unknown",
    "online_level_stated": lambda p: p.online_level_basis == "stated",
}


@dataclass
class Coverage:
    """How many records yield each field."""

    records: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {name: 0 for name in COVERAGE_FIELDS})

    def add(self, procedure: Procedure) -> None:
        self.records += 1
        for name, test in COVERAGE_FIELDS.items():
            self.counts[name] += bool(test(procedure))

    def as_dict(self) -> dict[str, Any]:
        return {
            "catalog_date": CATALOG_DATE,
            "records": self.records,
            "fields": {
                name: {"records": count, "percent": round(100 * count / self.records, 1) if self.records else 0.0}
                for name, count in self.counts.items()
            },
        }

    def table(self) -> str:
        lines = [f"{'field':<22}{'records':>9}{'%':>8}"]
        for name, count in self.counts.items():
            percent = 100 * count / self.records if self.records else 0.0
            lines.append(f"{name:<22}{count:>9}{percent:>8.1f}")
        lines.append(f"{'total records':<22}{self.records:>9}")
        return "\n".join(lines)


def _record_files(source: Path) -> Iterable[tuple[str, Path]]:
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.json")):
            yield folder.name, path


def import_catalog(source: Path, target: Path = CATALOG_DIR) -> Coverage:
    """Parse every record under ``source`` and (re)write the files in ``target``."""
    if not source.is_dir():
        raise CatalogImportError(f"catalog folder not found: {source}")
    by_ministry: dict[str, list[Procedure]] = {}
    coverage = Coverage()
    for ministry, path in _record_files(source):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            procedure = procedure_from_record(record, ministry)
        except (json.JSONDecodeError, KeyError, ValidationError) as error:
            raise CatalogImportError(f"{path}: {error}") from error
        by_ministry.setdefault(ministry, []).append(procedure)
        coverage.add(procedure)
    if not by_ministry:
        raise CatalogImportError(f"no records (*/*.json) under {source}")
    seen: dict[str, str] = {}
    for ministry, procedures in by_ministry.items():
        for procedure in procedures:
            if procedure.code in seen:
                raise CatalogImportError(f"code {procedure.code} in both {seen[procedure.code]} and {ministry}")
            seen[procedure.code] = ministry
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.jsonl"):
        if stale.stem not in by_ministry:
            stale.unlink()
    for ministry, procedures in sorted(by_ministry.items()):
        procedures.sort(key=lambda p: code_key(p.code))
        lines = [json.dumps(p.dict(), ensure_ascii=False, separators=(",", ":")) for p in procedures]
        (target / f"{ministry}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (target / COVERAGE_FILE).write_text(json.dumps(coverage.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return coverage
