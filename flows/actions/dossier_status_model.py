"""The shared dossier status list (TrangThaiHoSo): our key for a one-door system's number or portal code.

Read from dossier_status_model.yml; `status_key` answers "unknown" for anything not on the list,
so a status is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flows.yamlfile import LineDict, load_yaml

MODEL_FILE = Path(__file__).resolve().parent / "dossier_status_model.yml"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusDef:
    key: str
    number: int
    portal: str
    final: bool


@lru_cache(maxsize=1)
def statuses() -> dict[str, StatusDef]:
    """Key -> definition, in TrangThaiHoSo order; a malformed file fails with file:line."""
    raw = load_yaml(MODEL_FILE)
    table = raw.get("statuses") if isinstance(raw, LineDict) else None
    if not isinstance(table, LineDict):
        raise ValueError(f"{MODEL_FILE}:1: expected 'statuses:' mapping key -> {{number, portal, final}}")
    out: dict[str, StatusDef] = {}
    for key, spec in table.items():
        if not isinstance(spec, LineDict) or not isinstance(spec.get("number"), int) or not spec.get("portal"):
            where = spec.where() if isinstance(spec, LineDict) else str(MODEL_FILE)
            raise ValueError(f"{where}: status '{key}' needs a number and a portal code")
        out[str(key)] = StatusDef(str(key), int(spec["number"]), str(spec["portal"]), bool(spec.get("final")))
    return out


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for status in statuses().values():
        aliases[status.key] = status.key
        aliases[str(status.number)] = status.key
        aliases[status.portal.lower()] = status.key
    return aliases


def status_key(raw: object) -> str:
    """Our key for a key, a TrangThaiHoSo number or a portal code; "unknown" for anything else."""
    text = str(raw if raw is not None else "").strip().lower()
    return _aliases().get(text, UNKNOWN)


def is_final(key: str) -> bool:
    status = statuses().get(key)
    return bool(status and status.final)
