"""The dossier_status flow on the real flows and a real local provider: reading codes, saying
precisely what is wrong with them, explaining every status, and lookups that fail."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.dossiers import LocalDossierProvider, save_dossiers
from bot.storage import Store
from flows.actions.dossier_status import check_code, code_attempt, question_about_code, today_in_vietnam
from flows.engine import FlowEngine
from flows.services import DOSSIER_STATUSES, DossierRecord, Services
from nlu.dossier_code import canonical_dossier_code
from nlu.result import ParseResult

TODAY = today_in_vietnam()
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0)
CONTACT = {"hotline": "1900 1234", "hours": "7h30-17h, thứ Hai - thứ Sáu"}


def _code(day: date, sequence: int) -> str:
    return f"000.00.19.H12-{day:%y%m%d}-{sequence:04d}"


RECEIVED = TODAY - timedelta(days=10)
RECORDS = {
    "received": DossierRecord(_code(RECEIVED, 1), "received", "Đăng ký tạm trú", "1.004194", RECEIVED, TODAY + timedelta(days=3)),
    "processing": DossierRecord(_code(RECEIVED, 2), "processing", "", "1.000894", RECEIVED, TODAY + timedelta(days=1)),
    "supplement_required": DossierRecord(_code(RECEIVED, 3), "supplement_required", "Đăng ký thường trú", None, RECEIVED,
                                         TODAY, "Thiếu bản chụp hợp đồng thuê nhà."),
    "overdue": DossierRecord(_code(RECEIVED, 4), "processing", "Cấp lại giấy phép lái xe", None, RECEIVED, RECEIVED),
    "result_ready": DossierRecord(_code(RECEIVED, 5), "result_ready", "Thủ tục đăng ký khai sinh", None, RECEIVED, TODAY,
                                  "Nhận tại quầy số 2."),
    "completed": DossierRecord(_code(RECEIVED, 6), "completed", "Thủ tục đăng ký khai tử", None, RECEIVED, RECEIVED),
    "not_accepted": DossierRecord(_code(RECEIVED, 7), "not_accepted", "Đăng ký thành lập hộ kinh doanh", None, RECEIVED,
                                  RECEIVED, "Tên trùng với hộ kinh doanh khác."),
    "withdrawn": DossierRecord(_code(RECEIVED, 8), "withdrawn", "Xác nhận thông tin về cư trú", None, RECEIVED, RECEIVED),
    "registered": DossierRecord(_code(RECEIVED, 9), "registered", "Gia hạn tạm trú", None, RECEIVED, TODAY),
    "payment_required": DossierRecord(_code(RECEIVED, 10), "payment_required", "Đăng ký thành lập hộ kinh doanh", None,
                                      RECEIVED, TODAY, "Nộp lệ phí 100.000 đồng."),
    "stopped": DossierRecord(_code(RECEIVED, 11), "stopped", "Thủ tục đăng ký khai tử", None, RECEIVED, RECEIVED,
                             "Quá hạn bổ sung."),
}
# What each status must tell the citizen to do next (from flows/responses/dossier_status.yml).
NEXT_STEP = {
    "received": ["Đã tiếp nhận", "chưa cần làm gì"],
    "processing": ["Đang giải quyết", "chưa cần làm gì"],
    "supplement_required": ["Cần bổ sung", "Thiếu bản chụp hợp đồng thuê nhà.", "Việc cần làm", "1900 1234"],
    "overdue": ["Quá hạn", "xin lỗi", "1900 1234", "7h30-17h"],
    "result_ready": ["Đã có kết quả", "Mang theo Giấy tiếp nhận", "Nhận tại quầy số 2."],
    "completed": ["Đã trả kết quả", "đã xong"],
    "not_accepted": ["Không được tiếp nhận", "Lý do cán bộ ghi: Tên trùng với hộ kinh doanh khác."],
    "withdrawn": ["Đã rút hồ sơ", "xin rút"],
    "registered": ["Mới đăng ký", "chưa cần làm gì"],
    "payment_required": ["nghĩa vụ tài chính", "Nộp lệ phí 100.000 đồng.", "biên lai"],
    "stopped": ["Dừng xử lý", "Quá hạn bổ sung.", "1900 1234"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('dossier_flow') / 'flow.db'}")
    save_dossiers(store, list(RECORDS.values()))
    return store


@pytest.fixture(scope="module")
def services(store: Store) -> Services:
    from knowledge import load_knowledge

    return Services(knowledge=load_knowledge(), dossiers=LocalDossierProvider(store), contact=CONTACT)


def typed(text_: str, intent: str | None = None) -> ParseResult:
    """A typed message as the NLU gives it: the dossier code entity when the text holds a whole code."""
    code = canonical_dossier_code(text_)
    return ParseResult(text=text_, intent=intent, confidence=0.95 if intent else 0.1,
                       entities={"dossier_code": code} if code else {})


def button(intent: str, **entities: str) -> ParseResult:
    return ParseResult(text=f"/{intent}", intent=intent, confidence=1.0, entities=entities, from_button=True)


def talk(engine: FlowEngine, services: Services | None, *messages: ParseResult):
    """Runs the messages in one conversation; the texts of each turn and the last result."""
    state, turns, result = None, [], None
    for message in messages:
        result = engine.handle(state, message, services, NOW)
        state = result.state
        turns.append("\n".join(r.text for r in result.replies))
    return turns, result


# -- reading a typed code -------------------------------------------------------------------------

@pytest.mark.parametrize("typed_code, canonical", [
    ("000.00.19.H12-230815-0001", "000.00.19.H12-230815-0001"),
    ("000.00.19.h12-230815-0001", "000.00.19.H12-230815-0001"),
    ("000 . 00 . 19 . h12 - 230815 - 0001", "000.00.19.H12-230815-0001"),
    ("g22.28-250101-0012", "G22.28-250101-0012"),
    ("H26.7-250318-00123", "H26.7-250318-00123"),
])
def test_well_formed_codes_are_read_in_canonical_form(typed_code, canonical):
    assert check_code(typed_code, date(2026, 11, 22)).code == canonical


@pytest.mark.parametrize("typed_code, problem, detail", [
    ("1234", "too_short", "1234"),
    ("H12", "too_short", "H12"),
    ("0912 345 678", "phone_or_id", "0912 345 678"),
    ("001203004567", "phone_or_id", "001203004567"),
    ("0000019H122308150001", "no_dashes", "0000019H122308150001"),
    ("000.00.19.H12", "no_dashes", "000.00.19.H12"),
    ("230815-0001", "missing_agency", "230815-0001"),
    ("000.00.19.H12-0001", "missing_date", "000.00.19.H12-0001"),
    ("000.00.19.H12-230815", "missing_sequence", "000.00.19.H12-230815"),
    ("000.00.19.H12-2308-15-0001", "too_many_parts", "000.00.19.H12-2308-15-0001"),
    ("ABC-230815-0001", "bad_agency", "ABC"),
    ("000.00.19.H12-23X815-0001", "letters_in_date", "23X815"),
    ("000.00.19.H12-2308-0001", "date_length", "2308"),
    ("000.00.19.H12-231345-0001", "not_a_date", "231345"),
    ("000.00.19.H12-230230-0001", "not_a_date", "230230"),
    ("000.00.19.H12-991231-0001", "future_date", "31/12/2099"),
    ("000.00.19.H12-230815-00X1", "letters_in_sequence", "00X1"),
    ("000.00.19.H12-230815-01", "sequence_length", "01"),
    ("000.00.19.H12-230815-00000001", "sequence_length", "00000001"),
])
def test_a_wrong_code_is_told_precisely_what_is_wrong(engine, typed_code, problem, detail):
    result = check_code(typed_code, date(2026, 11, 22))
    assert result.code is None
    assert result.problem == problem
    assert detail in result.values.values()
    # every problem has its explanation, and the explanation shows the part at fault
    explanation = engine.responses.text(f"dossier_status_problem_{problem}", hint="", **result.values)
    assert detail in explanation


def test_letters_that_look_like_digits_are_read_as_the_digits_meant():
    assert check_code("000.00.19.H12-23O815-0001", date(2026, 11, 22)).code == "000.00.19.H12-230815-0001"
    assert check_code("000.00.19.h12-230815-0OI1", date(2026, 11, 22)).code == "000.00.19.H12-230815-0011"
    assert check_code("000.00.19.H12-23O815-0001", date(2026, 11, 22)).lookalike
    # O read as 0 must still give a real day; otherwise it is explained, with the hint
    wrong = check_code("000.00.19.H12-23I3O5-0001", date(2026, 11, 22))
    assert wrong.code is None and wrong.problem == "letters_in_date" and wrong.lookalike
    assert not check_code("000.00.19.H12-23X815-0001", date(2026, 11, 22)).lookalike


@pytest.mark.parametrize("message, strict, attempt", [
    ("tra cuu ho so H12-2308-01", True, "H12-2308-01"),
    ("000.00.19.H12 230815 0001", True, "000.00.19.H12-230815-0001"),  # spaces for dashes
    ("mã: 000.00.19.h12-230815-0001.", True, "000.00.19.h12-230815-0001"),
    ("tra cứu hồ sơ", True, None),
    ("hồ sơ nộp 2 tuần rồi chưa thấy gì", True, None),
    ("gọi 0912 345 678", False, "0912 345 678"),
    ("1234", False, "1234"),
    ("H12.45", True, "H12.45"),  # the code alone
    ("ma cua toi la H12.45", False, "H12.45"),
    ("ma cua toi la H12.45", True, None),  # the first message must look more like a code to be taken as one
    ("lệ phí 50000 à", False, None),  # a question with a number is left to the other flows
    ("mã là H12. cảm ơn", True, None),
])
def test_what_counts_as_an_attempt_at_a_code(message, strict, attempt):
    assert code_attempt(message, strict=strict) == attempt


@pytest.mark.parametrize("message, question", [
    ("mã hồ sơ nằm ở đâu", "where"),
    ("ma ho so la gi", "where"),
    ("khong nho ma", "where"),
    ("em làm mất giấy hẹn rồi", "lost"),
    ("nộp hồ sơ khai sinh ở đâu", None),
    ("lệ phí khai sinh bao nhiêu", None),
])
def test_questions_about_the_code_itself(message, question):
    assert question_about_code(message) == question


# -- the flow ---------------------------------------------------------------------------------------

def test_every_status_has_a_word_and_an_explanation(engine):
    for status in DOSSIER_STATUSES:
        assert f"dossier_status_label_{status}" in engine.responses
        assert f"dossier_status_explain_{status}" in engine.responses


@pytest.mark.parametrize("status", [*DOSSIER_STATUSES, "overdue"])
def test_each_status_is_explained_with_the_next_thing_to_do(engine, services, status):
    record = RECORDS[status]
    turns, result = talk(engine, services, typed(f"tra cứu hồ sơ {record.code}", "check_status"))
    said = turns[-1]
    assert result.completed == ["dossier_status"] and result.flow is None
    assert record.code in said and f"Ngày tiếp nhận: {RECEIVED:%d/%m/%Y}" in said
    for phrase in NEXT_STEP[status]:
        assert phrase in said, f"{status}: {phrase!r} not in\n{said}"
    titles = [b.title for r in result.replies for b in r.buttons]
    assert any("Tra cứu mã khác" in t for t in titles) and any("Báo cho tôi khi có thay đổi" in t for t in titles)


def test_a_missing_procedure_name_comes_from_the_catalog(engine, services):
    turns, _ = talk(engine, services, typed(RECORDS["processing"].code, "check_status"))
    assert "Thủ tục: Thủ tục đăng ký kết hôn" in turns[-1]


def test_a_still_open_dossier_past_its_due_day_is_explained_as_overdue(engine, store):
    late = DossierRecord(_code(RECEIVED, 90), "processing", "Đăng ký tạm trú", None, RECEIVED, TODAY - timedelta(days=2))
    save_dossiers(store, [late])
    turns, _ = talk(engine, Services(knowledge=None, dossiers=LocalDossierProvider(store)), typed(late.code, "check_status"))
    assert "Quá hạn" in turns[-1] and "xin lỗi" in turns[-1]
    # without a hotline in the settings, the desk where it was filed is named instead
    assert "bộ phận một cửa nơi bạn đã nộp hồ sơ" in turns[-1]


def test_a_status_the_assistant_does_not_know_is_shown_as_the_office_wrote_it(engine, store):
    odd = DossierRecord(_code(RECEIVED, 91), "chờ thanh toán phí", "Đăng ký tạm trú", None, RECEIVED, TODAY)
    save_dossiers_unchecked(store, odd)
    turns, result = talk(engine, Services(knowledge=None, dossiers=LocalDossierProvider(store)), typed(odd.code, "check_status"))
    assert '"chờ thanh toán phí"' in turns[-1] and result.flow is None


def save_dossiers_unchecked(store: Store, record: DossierRecord) -> None:
    """A row as another system might leave it (the import refuses unknown statuses)."""
    with store.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO dossiers (code, procedure_name, status, received_at, due_at, updated_at, note) "
                 "VALUES (:code, :name, :status, :received, :due, :updated, '')"),
            {"code": record.code, "name": record.procedure_name, "status": record.status,
             "received": datetime.combine(record.received_on, datetime.min.time()),
             "due": datetime.combine(record.due_on, datetime.min.time()), "updated": NOW},
        )


def test_a_code_in_the_first_message_that_is_wrong_is_explained_at_once(engine, services):
    turns, result = talk(engine, services, typed("tra cứu hồ sơ 000.00.19.H12-2308-0001", "check_status"))
    assert "đúng 6 chữ số" in turns[-1] and '"2308"' in turns[-1]
    assert result.flow == "dossier_status"


def test_three_wrong_tries_offer_a_person_or_to_stop(engine, services):
    # The NLU reads digit-heavy mistyped codes as rate_service (a rating); they are still codes here.
    turns, result = talk(
        engine, services,
        typed("tra cứu hồ sơ", "check_status"), typed("1234", "rate_service"),
        typed("000.00.19.H12-0001", "rate_service"), typed("H12-230815", "rate_service"),
    )
    assert result.started == []
    assert "ngắn quá" in turns[1] and "thiếu phần ngày nộp" in turns[2]
    assert "Đã 3 lần" in turns[3]
    assert result.flow is None and result.completed == ["dossier_status"]
    payloads = [b.payload for r in result.replies for b in r.buttons]
    assert "/request_human" in payloads and "/check_status" in payloads


def test_a_question_about_the_code_is_answered_and_is_no_wrong_try(engine, services):
    turns, result = talk(
        engine, services,
        typed("tra cứu hồ sơ", "check_status"), typed("1234"), typed("mã hồ sơ ở đâu", "ask_where"),
        typed("H12"), typed(RECORDS["completed"].code),
    )
    assert result.started == [] and "góc trên bên phải" in turns[2]
    assert "ngắn quá" in turns[3] and "Đã 3 lần" not in turns[3]
    assert "Đã trả kết quả" in turns[4]


def test_a_button_of_another_flow_is_answered_not_read_as_a_code(engine, services):
    turns, result = talk(
        engine, services, typed("tra cứu hồ sơ", "check_status"), button("ask_fee", procedure="1.001193"),
    )
    assert "procedure_info" in result.started
    assert "tra cứu hồ sơ" in turns[-1]  # offered to go back to the check


def test_subscribing_without_a_code_asks_for_the_dossier_first(engine, services):
    turns, result = talk(engine, services, typed("báo cho tôi khi có kết quả", "subscribe_status"))
    assert "trước hết tôi cần tra cứu" in turns[0] and "Bạn gửi giúp tôi mã hồ sơ" in turns[0]
    assert result.flow == "dossier_status"


def test_a_provider_that_cannot_answer_is_said_plainly_and_nothing_crashes(engine, tmp_path: Path, caplog):
    broken = Store.open(f"sqlite:///{tmp_path / 'broken.db'}")
    with broken.engine.begin() as connection:
        connection.execute(text("DROP TABLE dossiers"))
    code = RECORDS["received"].code
    with caplog.at_level(logging.INFO):
        turns, result = talk(engine, Services(knowledge=None, dossiers=LocalDossierProvider(broken)),
                             typed(f"tra cứu {code}", "check_status"))
    assert "tạm thời không hoạt động" in turns[-1] and "trục trặc" not in turns[-1]
    assert result.flow is None and result.completed == ["dossier_status"]
    assert "unavailable" in caplog.text and code not in caplog.text


def test_without_a_provider_the_lookup_is_unavailable(engine):
    turns, _ = talk(engine, Services(knowledge=None), typed(RECORDS["received"].code, "check_status"))
    assert "tạm thời không hoạt động" in turns[-1]


def test_guessing_codes_is_refused_politely_after_the_persons_limit(engine, store):
    from bot.dossiers.service import DossierService, LookupLimits, Route

    service = DossierService(store, [Route(("*",), LocalDossierProvider(store))], LookupLimits(per_user=3))
    services = Services(knowledge=None, dossiers=service, user_key="zalo:guesser")
    said = []
    for n in range(6):
        turns, result = talk(engine, services, typed(f"tra cứu hồ sơ {_code(RECEIVED, 100 + n)}", "check_status"))
        said.append(turns[-1])
    assert all("không tìm thấy" in t for t in said[:3])
    assert all("tra cứu nhiều lần" in t and "không tìm thấy" not in t for t in said[3:])
    other = Services(knowledge=None, dossiers=service, user_key="zalo:someone-else")
    assert "Tình trạng" in talk(engine, other, typed(f"tra cứu {RECORDS['received'].code}", "check_status"))[0][-1]
