"""The local dossier provider: the demo data, a desk's import file, lookups, and codes kept out of logs."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.__main__ import main as bot_main
from bot.dossiers import (
    DEMO_FILE,
    DossierFileError,
    LocalDossierProvider,
    import_dossier_file,
    read_dossier_file,
    sync_demo_dossiers,
)
from bot.privacy import MaskingFilter, mask
from bot.storage import Dossier, Store
from flows.services import DOSSIER_STATUSES, ProviderUnavailable
from nlu.dossier_code import canonical_dossier_code

GOOD_YAML = """\
- code: 000.00.19.H12-261101-0001
  status: processing
  procedure_code: "1.001193"
  procedure_name: Thủ tục đăng ký khai sinh
  received: 2026-11-01
  due: 05/11/2026
- code: 000 . 00 . 19 . h12 - 261101 - 0002
  status: result_ready
  note: Nhận tại quầy số 2.
"""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'dossiers.db'}")


def _count(store: Store) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(Dossier)).scalar_one()


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


# -- demo data ------------------------------------------------------------------------------------

def test_the_demo_dossiers_cover_every_status_with_real_shaped_codes_and_catalog_names():
    from knowledge import load_knowledge

    records = read_dossier_file(DEMO_FILE)
    assert {r.status for r in records} == set(DOSSIER_STATUSES)
    knowledge = load_knowledge()
    for record in records:
        assert canonical_dossier_code(record.code) == record.code
        assert record.received_on is not None and record.received_on <= date.today()
        assert record.code.split("-")[1] == f"{record.received_on:%y%m%d}"  # the code carries the day received
        procedure = knowledge.get(record.procedure_code)
        assert procedure is not None and procedure.name == record.procedure_name, record.code
    still_open = [r for r in records if r.status in ("received", "processing")]
    assert all(r.due_on is not None for r in still_open)
    assert sum(r.due_on < date.today() for r in still_open if r.due_on) == 1  # the overdue example


def test_demo_loading_is_idempotent_and_turning_it_off_removes_only_untouched_demo_rows(store, tmp_path):
    demo = read_dossier_file(DEMO_FILE)
    assert sync_demo_dossiers(store, True) == len(demo)
    assert sync_demo_dossiers(store, True) == 0  # a second start-up changes nothing
    assert _count(store) == len(demo)
    # the desk's own dossier, and a demo code the desk has since changed, survive DOSSIER_DEMO=false
    import_dossier_file(store, _write(tmp_path, "own.yml", GOOD_YAML))
    with store.session() as session, session.begin():
        session.execute(select(Dossier).where(Dossier.code == demo[0].code)).scalar_one().status = "completed"
    assert sync_demo_dossiers(store, False) == len(demo) - 1
    assert _count(store) == 2 + 1


# -- a desk's file ----------------------------------------------------------------------------------

def test_a_desk_yaml_file_is_imported_then_updated_in_place(store, tmp_path):
    path = _write(tmp_path, "desk.yml", GOOD_YAML)
    assert import_dossier_file(store, path) == (2, 0)
    assert import_dossier_file(store, path) == (0, 0)
    path.write_text(GOOD_YAML.replace("status: processing", "status: supplement_required"), encoding="utf-8")
    assert import_dossier_file(store, path) == (0, 1)
    record = LocalDossierProvider(store).lookup("000.00.19.H12-261101-0001")
    assert record is not None and record.status == "supplement_required"
    assert record.received_on == date(2026, 11, 1) and record.due_on == date(2026, 11, 5)


def test_a_csv_file_with_semicolons_and_day_first_dates(store, tmp_path):
    path = _write(tmp_path, "desk.csv", (
        "code;status;procedure_name;received;due;note\n"
        "G22.28-261010-0019;completed;Cấp bản sao Trích lục hộ tịch;10/10/2026;11/10/2026;\n"
        "g22.28-261010-0020;not_accepted;Đăng ký thành lập hộ kinh doanh;10/10/2026;;Tên trùng, đề nghị đổi tên\n"
    ))
    assert import_dossier_file(store, path) == (2, 0)
    record = LocalDossierProvider(store).lookup("G22.28-261010-0020")
    assert record is not None and record.note == "Tên trùng, đề nghị đổi tên" and record.due_on is None


def test_a_bad_file_names_every_bad_row_and_imports_nothing(store, tmp_path):
    path = _write(tmp_path, "bad.yml", """\
- code: 000.00.19.H12-261101-0001
  status: processing
- code: 000.00.19.H12-2611-0002
  status: processing
- code: 000.00.19.H12-261101-0003
  status: finished
- code: 000.00.19.H12-261101-0004
  status: processing
  received: 2026-11-10
  due: 2026-11-01
- code: 000.00.19.H12-261101-0001
  status: completed
- code: 000.00.19.H12-261101-0005
  status: received
  stauts: received
""")
    with pytest.raises(DossierFileError) as error:
        import_dossier_file(store, path)
    message = str(error.value)
    for line, words in [(3, "not a dossier code"), (5, "'status' 'finished'"), (7, "before 'received'"),
                        (11, "already at"), (13, "unknown column(s) stauts")]:
        assert f"bad.yml:{line}: " in message and words in message, (line, message)
    assert "bad.yml:1:" not in message
    assert "000.00.19.H12-2611-0002" not in message  # the error can be shared: codes are masked
    assert _count(store) == 0


@pytest.mark.parametrize("name, content, words", [
    ("desk.txt", "", "use a .yml, .yaml, .csv or .xlsx file"),
    ("desk.yml", "code: 1\n", "expected a list of dossiers"),
    ("desk.yml", "- [unclosed\n", "invalid YAML"),
])
def test_files_that_are_not_dossier_tables_are_refused_with_a_reason(tmp_path, name, content, words):
    with pytest.raises(DossierFileError, match=r"desk\.") as error:
        read_dossier_file(_write(tmp_path, name, content))
    assert words in str(error.value)


def test_the_import_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert bot_main(["dossiers", "import", str(_write(tmp_path, "desk.yml", GOOD_YAML))]) == 0
    assert "2 hồ sơ mới" in capsys.readouterr().out
    assert bot_main(["dossiers", "import", str(_write(tmp_path, "bad.csv", "code,status\nH12,processing\n"))]) == 2
    assert "bad.csv:2:" in capsys.readouterr().err
    assert _count(Store.open(f"sqlite:///{tmp_path / 'cli.db'}")) == 2


# -- lookups ----------------------------------------------------------------------------------------

def test_lookup_is_tolerant_of_spaces_and_case_and_says_none_for_unknown_codes(store, tmp_path):
    import_dossier_file(store, _write(tmp_path, "desk.yml", GOOD_YAML))
    provider = LocalDossierProvider(store)
    record = provider.lookup("000 . 00 . 19 . h12 - 261101 - 0002")
    assert record is not None and record.code == "000.00.19.H12-261101-0002" and record.status == "result_ready"
    assert provider.lookup("000.00.19.H12-261101-0009") is None


def test_a_database_failure_is_provider_unavailable_without_the_code(store):
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE dossiers"))
    with pytest.raises(ProviderUnavailable) as error:
        LocalDossierProvider(store).lookup("000.00.19.H12-261101-0001")
    assert "261101" not in str(error.value) and error.value.provider == "local"


async def test_the_assistant_says_the_lookup_is_unavailable_when_the_database_fails(assistant, user, tmp_path):
    from bot.assistant import Assistant

    broken = Store.open(f"sqlite:///{tmp_path / 'broken.db'}")
    with broken.engine.begin() as connection:
        connection.execute(text("DROP TABLE dossiers"))
    shaky = Assistant(nlu=assistant.nlu, engine=assistant.engine, store=assistant.store,
                      knowledge=assistant.knowledge, dossiers=LocalDossierProvider(broken))
    turn = await shaky.handle("terminal", user, "tra cứu hồ sơ 000.00.19.H12-261116-0012")
    said = "\n".join(r.text for r in turn.replies)
    assert "tạm thời không hoạt động" in said and turn.flow is None


# -- privacy ----------------------------------------------------------------------------------------

def test_every_demo_code_is_masked_in_logs_however_it_is_typed():
    for record in read_dossier_file(DEMO_FILE):
        spaced = record.code.lower().replace("-", " - ")
        for shown in (record.code, spaced, "G22-261002-0019"):
            line = logging.LogRecord("t", logging.INFO, __file__, 1, "user typed %s", (shown,), None)
            MaskingFilter().filter(line)
            assert shown not in line.getMessage() and "[mã hồ sơ" in line.getMessage()
    assert mask("năm 2026 mất 3 ngày") == "năm 2026 mất 3 ngày"


def test_a_one_door_systems_xlsx_export_is_imported_with_its_second_factor_digits(store, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "HoSo"
    sheet.append([])  # exports often start with an empty row
    sheet.append(["code", "status", "procedure_name", "received", "due", "note", "id_last4", "phone_last4"])
    sheet.append(["000.00.19.H12-261101-0005", 5, "Đăng ký thường trú", "01/11/2026", "15/11/2026", "Thiếu hợp đồng",
                  "001090012345", "0912345678"])
    sheet.append(["000.00.19.H12-261101-0006", "releasing", "Đăng ký tạm trú", "2026-11-01", None, None, None, None])
    path = tmp_path / "export.xlsx"
    book.save(path)
    assert import_dossier_file(store, path) == (2, 0)
    first = LocalDossierProvider(store).lookup("000.00.19.H12-261101-0005")
    assert first.status == "supplement_required" and first.holder_digits == ("2345", "5678")
    assert LocalDossierProvider(store).lookup("000.00.19.H12-261101-0006").status == "result_ready"


def test_a_bad_xlsx_row_is_named_by_sheet_and_row(store, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "HoSo"
    book.active.append(["code", "status"])
    book.active.append(["000.00.19.H12-261101-0005", "xong roi"])
    path = tmp_path / "bad.xlsx"
    book.save(path)
    with pytest.raises(DossierFileError, match=r"bad.xlsx:HoSo!row 2: 'status' 'xong roi'"):
        import_dossier_file(store, path)
