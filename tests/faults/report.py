"""The robustness table: each fault or input test adds the rows it proved; the run writes them to
var/artifacts/robustness.md (the README's "Robustness" section shows the last run's table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "robustness.md"


@dataclass(frozen=True)
class Row:
    kind: str  # "input" or "fault"
    tried: str
    outcome: str
    nothing_lost: str


ROWS: list[Row] = []


def record(kind: str, tried: str, outcome: str, nothing_lost: str) -> None:
    """Adds a row; call it after the assertions, so only what a test proved is written."""
    ROWS.append(Row(kind, tried, outcome, nothing_lost))


def write(path: Path = ARTIFACT) -> Path | None:
    if not ROWS:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- written by the fault and input tests (tests/faults/), {stamp}; regenerate: make faults -->",
        "| | tried | outcome | nothing lost |",
        "|---|---|---|---|",
    ]
    for row in sorted(ROWS, key=lambda r: r.kind != "input"):
        cells = [row.kind, row.tried, row.outcome, row.nothing_lost]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
