"""The local dossier registry: the `dossiers` table, filled from a desk's YAML/CSV/.xlsx file, the demo
data, or a one-door system's pushed events (bot.dossiers.events).

`python -m bot dossiers import FILE.yml|FILE.csv|FILE.xlsx` loads a desk's own table (one row per
dossier, updated in place when the code is already there; a changed status is a change in the
dossier's history and notifies its subscribers). With DOSSIER_DEMO=true the sample
dossiers of bot/data/demo_dossiers.yml are loaded at start-up so the status check can be tried.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.privacy import mask
from bot.storage import Store
from bot.storage.models import Dossier, DossierHistory, utcnow
from flows.actions.dossier_status_model import UNKNOWN, status_key
from flows.services import DOSSIER_STATUSES, DossierRecord, DossierStep, ProviderUnavailable
from flows.yamlfile import LineDict, YamlFileError, load_yaml
from nlu.dossier_code import canonical_dossier_code, received_on

log = logging.getLogger(__name__)

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "demo_dossiers.yml"
FIELDS = ("code", "status", "procedure_code", "procedure_name", "received", "due", "due_in_days", "note",
          "id_last4", "phone_last4")
# Rows looked up per query when saving, so a large file stays within every database's parameter limit.
BATCH = 500


class DossierFileError(ValueError):
    """A dossier file that cannot be imported; the message lists every bad row as file:line."""


# A "did you mean" search looks at codes of the same agency and day: at most this many.
SUGGEST_SCAN = 2000


class LocalDossierProvider:
    """Looks dossiers up in the `dossiers` table of the assistant's own database."""

    name = "local"
    can_search = True

    def __init__(self, store: Store):
        self.store = store

    def lookup(self, code: str) -> DossierRecord | None:
        """The dossier with this code (any spacing or case), None when the table has no such code."""
        canonical = canonical_dossier_code(code) or code.strip().upper()
        try:
            with self.store.session() as session:
                row = session.execute(select(Dossier).where(Dossier.code == canonical)).scalar_one_or_none()
                history = [] if row is None else session.execute(
                    select(DossierHistory).where(DossierHistory.code == canonical)
                    .order_by(DossierHistory.occurred_at, DossierHistory.id)
                ).scalars().all()
        except SQLAlchemyError as e:
            # The driver's message can quote the query's parameters (the code): give only the kind of failure.
            raise ProviderUnavailable(self.name, f"database error {type(e).__name__}") from e
        return _record(row, history) if row is not None else None

    def suggest(self, code: str) -> list[str]:
        """Known codes that differ from `code` by one character (same length), for "Có phải mã … không?"."""
        canonical = canonical_dossier_code(code) or code.strip().upper()
        # One wrong character leaves either the agency part or the date-and-sequence part intact.
        head, _, tail = canonical.partition("-")
        try:
            with self.store.session() as session:
                candidates = session.execute(
                    select(Dossier.code).where(
                        (Dossier.code.like(f"{head}-%")) | (Dossier.code.like(f"%-{tail}"))
                    ).limit(SUGGEST_SCAN)
                ).scalars().all()
        except SQLAlchemyError as e:
            raise ProviderUnavailable(self.name, f"database error {type(e).__name__}") from e
        return sorted(c for c in candidates if one_apart(c, canonical))


def one_apart(a: str, b: str) -> bool:
    """Same length and exactly one character different (a mistyped digit or letter)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


def _record(row: Dossier, history: list[DossierHistory] | None = None) -> DossierRecord:
    return DossierRecord(
        code=row.code,
        status=status_key(row.status),
        procedure_name=row.procedure_name or "",
        procedure_code=row.procedure_code,
        received_on=row.received_at.date() if row.received_at else None,
        due_on=row.due_at.date() if row.due_at else None,
        note=row.note or "",
        updated_at=row.updated_at,
        history=tuple(DossierStep(h.occurred_at, status_key(h.status), h.note or "", h.department or "")
                      for h in history or ()),
        holder_digits=tuple(d for d in (row.id_last4, row.phone_last4) if d),
        raw_status=row.status,
    )


# -- reading a file ------------------------------------------------------------------------------


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"'{name}' must be a date like 2026-11-20 or 20/11/2026, got {text!r}")


def _hidden(code: str) -> str:
    """A code as error messages show it: enough to recognise, not to look up (the line says which row)."""
    compact = "".join(code.split())
    return mask(compact) if mask(compact) != compact else f"{compact[:2]}***{compact[-2:]}"


def _row(raw: dict[str, Any], today: date) -> DossierRecord:
    """One dossier from a file row; ValueError says what is wrong (codes are masked: files can be shared)."""
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    typed = str(raw.get("code") or "").strip()
    code = canonical_dossier_code(typed)
    if not typed:
        raise ValueError("'code' is missing")
    if code is None or code != "".join(typed.split()).upper():
        raise ValueError(f"'code' {_hidden(typed)!r} is not a dossier code like 000.00.19.H12-230815-0001")
    if received_on(code) is None:
        raise ValueError(f"'code' {_hidden(code)!r}: its middle part is not a real date (yymmdd)")
    typed_status = str(raw.get("status") or "").strip()
    status = status_key(typed_status)
    if status == UNKNOWN:
        raise ValueError(f"'status' {typed_status!r} is not one of {', '.join(DOSSIER_STATUSES)} (or 1-10)")
    received = _date(raw.get("received"), "received") or received_on(code)
    due = _date(raw.get("due"), "due")
    if raw.get("due_in_days") not in (None, ""):
        if due is not None:
            raise ValueError("give either 'due' or 'due_in_days', not both")
        try:
            due = today + timedelta(days=int(str(raw["due_in_days"]).strip()))
        except ValueError:
            raise ValueError(f"'due_in_days' must be a whole number, got {raw['due_in_days']!r}") from None
    if received and due and due < received:
        raise ValueError(f"'due' {due:%d/%m/%Y} is before 'received' {received:%d/%m/%Y}")
    procedure_code = str(raw.get("procedure_code") or "").strip() or None
    digits = []
    for name in ("id_last4", "phone_last4"):
        value = "".join(str(raw.get(name) or "").split())
        if value and not (value.isdigit() and len(value) >= 4):
            raise ValueError(f"'{name}' must be digits (the last 4 are kept), got {len(value)} characters")
        digits.append(value[-4:])
    return DossierRecord(
        code=code,
        status=status,
        procedure_name=str(raw.get("procedure_name") or "").strip(),
        procedure_code=procedure_code,
        received_on=received,
        due_on=due,
        note=" ".join(str(raw.get("note") or "").split()),
        holder_digits=tuple(digits),
    )


def _yaml_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    try:
        raw = load_yaml(path)
    except YamlFileError as e:
        raise DossierFileError(str(e)) from e
    if isinstance(raw, LineDict) and "dossiers" in raw:
        raw = raw["dossiers"]
    if not isinstance(raw, list):
        raise DossierFileError(f"{path}:1: expected a list of dossiers (code, status, ...)")
    for index, item in enumerate(raw, 1):
        if not isinstance(item, LineDict):
            yield f"{path}: item {index}", {"__bad__": item}
        else:
            yield item.where(), dict(item)


def _csv_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise DossierFileError(f"{path}: cannot read: {e.strerror}") from e
    with handle:
        try:
            sample = handle.read(4096)
            handle.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
        except (csv.Error, UnicodeDecodeError):
            dialect = csv.excel
        try:
            reader = csv.DictReader(handle, dialect=dialect)
            for row in reader:
                yield f"{path}:{reader.line_num}", {k.strip(): v for k, v in row.items() if k is not None}
        except (csv.Error, UnicodeDecodeError) as e:
            raise DossierFileError(f"{path}: cannot read as UTF-8 CSV: {e}") from e


def _xlsx_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """Rows of the first sheet of a one-door system's .xlsx export; the first non-empty row names the columns."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as e:
        raise DossierFileError(f"{path}: cannot read as .xlsx: {e}") from e
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            if header is None:
                if any(v not in (None, "") for v in values):
                    header = [str(v or "").strip() for v in values]
                continue
            if all(v in (None, "") for v in values):
                continue
            row = {k: v for k, v in zip(header, values) if k}
            yield f"{path}:{sheet.title}!row {number}", {k: ("" if v is None else v) for k, v in row.items()}
    finally:
        book.close()


def read_dossier_file(path: Path, today: date | None = None) -> list[DossierRecord]:
    """Every dossier of a .yml/.yaml/.csv/.xlsx file; DossierFileError lists all bad rows and none is kept."""
    today = today or date.today()
    suffix = path.suffix.lower()
    if suffix not in (".yml", ".yaml", ".csv", ".xlsx"):
        raise DossierFileError(f"{path}: use a .yml, .yaml, .csv or .xlsx file (columns: {', '.join(FIELDS)})")
    if not path.exists():
        raise DossierFileError(f"{path}: no such file")
    readers = {".csv": _csv_rows, ".xlsx": _xlsx_rows}
    rows = readers.get(suffix, _yaml_rows)(path)
    records: list[DossierRecord] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for where, raw in rows:
        if "__bad__" in raw:
            problems.append(f"{where}: expected a mapping with code, status, ..., got {raw['__bad__']!r}")
            continue
        try:
            record = _row(raw, today)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            continue
        if record.code in seen:
            problems.append(f"{where}: code {_hidden(record.code)!r} is already at {seen[record.code]}")
            continue
        seen[record.code] = where
        records.append(record)
    if problems:
        raise DossierFileError("\n".join(problems))
    return records


# -- saving ----------------------------------------------------------------------------------------


def _at(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day) if day else None


def save_dossiers(store: Store, records: list[DossierRecord]) -> tuple[int, int]:
    """Adds new codes and updates known ones (same result however often it runs); (added, updated).

    A changed status is a change in the dossier's history and notifies its subscribers, in the same transaction.
    """
    from bot.dossiers.events import apply_change

    added = updated = 0
    now = utcnow()
    with store.session() as session, session.begin():
        for start in range(0, len(records), BATCH):
            batch = records[start:start + BATCH]
            known = {
                row.code: row
                for row in session.execute(select(Dossier).where(Dossier.code.in_([r.code for r in batch]))).scalars()
            }
            for record in batch:
                id_last4, phone_last4 = (tuple(record.holder_digits) + ("", ""))[:2]
                fields = {
                    "procedure_code": record.procedure_code,
                    "procedure_name": record.procedure_name,
                    "received_at": _at(record.received_on),
                    "due_at": _at(record.due_on),
                    "note": record.note,
                    "id_last4": id_last4 or None,
                    "phone_last4": phone_last4 or None,
                }
                row = known.get(record.code)
                if row is None:
                    # A file gives no time for the status: any dated event from the office is newer.
                    session.add(Dossier(code=record.code, status=record.status, status_at=None, updated_at=now, **fields))
                    session.add(DossierHistory(code=record.code, status=record.status,
                                               occurred_at=fields["received_at"] or now,
                                               note=record.note, department="", source="import", recorded_at=now))
                    added += 1
                    continue
                changed = any(getattr(row, k) != v for k, v in fields.items())
                for key, value in fields.items():
                    setattr(row, key, value)
                if row.status != record.status:
                    apply_change(session, record.code, record.status, max(now, row.status_at or now) + timedelta(seconds=1),
                                 note=record.note, source="import", now=now)
                    changed = True
                if changed:
                    row.updated_at = now
                    updated += 1
    return added, updated


def import_dossier_file(store: Store, path: Path) -> tuple[int, int]:
    """Reads a desk's file and saves it; DossierFileError (nothing saved) when a row is wrong."""
    return save_dossiers(store, read_dossier_file(path))


def sync_demo_dossiers(store: Store, enabled: bool, path: Path = DEMO_FILE) -> int:
    """DOSSIER_DEMO: loads the sample dossiers when on; when off, removes those still as the demo left them."""
    records = read_dossier_file(path)
    if enabled:
        for attempt in (1, 2):
            try:
                added, updated = save_dossiers(store, records)
                break
            except IntegrityError:  # another process loaded them at the same moment: read again
                if attempt == 2:
                    raise
        if added or updated:
            log.info("dossier demo: %d sample dossiers added, %d refreshed (DOSSIER_DEMO=true)", added, updated)
        return added + updated
    removed = 0
    with store.session() as session, session.begin():
        for record in records:
            result = session.execute(delete(Dossier).where(
                Dossier.code == record.code,
                Dossier.status == record.status,
                Dossier.procedure_name == record.procedure_name,
                Dossier.note == record.note,
            ))
            removed += result.rowcount or 0
    if removed:
        log.info("dossier demo: %d sample dossiers removed (DOSSIER_DEMO=false)", removed)
    return removed
