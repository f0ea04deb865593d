"""Issue 11: the act and the parts asked, diacritics as evidence, codes as people type them.

The word lists and the arbitration are tested without a model; the last tests parse with the
real trained model (the `nlu_model` fixture) the failures the issue reports.
"""

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.acts import ActWords, AspectWords
from nlu.components.intent_classifier import ArrayLogisticRegressionClassifier
from nlu.components.normalizer import ORIGINAL_TEXT
from nlu.dossier_code import find_code_attempts, meant_dossier_code, typed_dossier_codes
from nlu.evaluate_real import RealExample, Understood, score_real
from nlu.normalize import normalize, normalize_marked


@pytest.fixture(scope="module")
def aspect_words():
    return AspectWords.from_yaml()


@pytest.mark.parametrize(
    "text, aspects",
    [
        ("Thời hạn giải quyết là bao lâu?", ["time"]),
        ("Đề nghị cho biết thành phần hồ sơ và lệ phí", ["documents", "fee"]),
        ("cần giấy tờ gì, nộp ở đâu", ["documents", "where"]),
        ("tờ khai theo mẫu nào", ["forms"]),
        ("trình tự thực hiện thế nào", ["steps"]),
        ("xin chào", []),
    ],
)
def test_anchors_name_the_parts_asked_in_order(aspect_words, text, aspects):
    assert aspect_words.matcher().find(normalize(text)) == aspects


def test_a_question_intent_teaches_its_aspects_and_combinations_teach_several(aspect_words):
    assert aspect_words.aspects_of("ask_fee+ask_processing_time") == ["fee", "time"]
    assert aspect_words.aspects_of("ask_who") == ["who"]
    assert aspect_words.aspects_of("feedback") is None


def test_an_unknown_aspect_name_is_refused_with_the_file(tmp_path):
    path = tmp_path / "aspects.yml"
    path.write_text("intents: {ask_fee: money}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"aspects\.yml.*money"):
        AspectWords.from_yaml(path)


@pytest.mark.parametrize(
    "text, follow_up",
    [("còn lệ phí thì sao", True), ("thế nộp ở đâu", True), ("vậy mất bao lâu", True),
     ("con le phi thi sao", True), ("làm hộ chiếu cần gì", False)],
)
def test_follow_ups_are_recognised(aspect_words, text, follow_up):
    assert aspect_words.is_follow_up(normalize(text)) is follow_up


def _arbiter():
    classifier = ArrayLogisticRegressionClassifier({}, "classifier", None, None)
    classifier._use_act_words(ActWords.from_yaml())
    return classifier


def _ranked(text: str, ranking: dict[str, float]) -> list[str]:
    message = Message(data={TEXT: normalize(text), ORIGINAL_TEXT: text})
    out = _arbiter()._arbitrate(message, [{"name": n, "confidence": c} for n, c in ranking.items()])
    return [r["name"] for r in out if r["confidence"] > 0]


def test_a_question_without_a_complaints_words_is_no_complaint():
    ranking = {"feedback": 0.6, "ask_procedure": 0.25, "out_of_scope": 0.15}
    assert _ranked("Tôi cần lưu ý gì khi nộp bản đồ địa chính", ranking)[0] == "ask_procedure"


def test_a_complaint_in_its_own_words_stays_a_complaint():
    ranking = {"feedback": 0.6, "ask_procedure": 0.25, "out_of_scope": 0.15}
    assert _ranked("tôi muốn phản ánh cán bộ hẹn mãi không trả hồ sơ, sao lại thế", ranking)[0] == "feedback"


def test_between_an_act_and_a_question_it_is_unsure_of_the_question_wins():
    ranking = {"request_human": 0.55, "ask_procedure": 0.4, "greet": 0.05}
    assert _ranked("cho tôi hỏi cán bộ nào giải quyết hồ sơ này", ranking)[0] == "ask_procedure"


def test_a_message_that_asks_nothing_keeps_the_classifiers_act():
    ranking = {"feedback": 0.7, "ask_procedure": 0.3}
    assert _ranked("hồ sơ của tôi bị trả về lần thứ ba rồi", ranking)[0] == "feedback"


def test_a_formal_request_for_an_answer_is_a_question_not_a_walk_through():
    ranking = {"ask_howto_online": 0.9, "ask_procedure": 0.08, "out_of_scope": 0.02}
    text = "Đề nghị hướng dẫn nộp hồ sơ đăng ký khai sinh trực tuyến như thế nào?"
    assert _ranked(text, ranking)[0] == "ask_procedure"


def test_asking_about_the_online_way_is_a_question_asking_to_be_walked_through_is_not():
    ranking = {"ask_howto_online": 0.9, "ask_procedure": 0.08, "out_of_scope": 0.02}
    assert _ranked("đăng ký tạm trú trên vneid được không", ranking)[0] == "ask_procedure"
    assert _ranked("hướng dẫn tôi nộp tạm trú trên vneid, bắt đầu từ đâu?", ranking)[0] == "ask_howto_online"
    assert _ranked("hướng dẫn nộp hồ sơ tạm trú qua mạng", ranking)[0] == "ask_howto_online"


def test_a_legal_aspect_guessed_without_its_anchor_is_no_aspect(aspect_words):
    import numpy as np

    from nlu.components.aspect_classifier import AspectClassifier

    component = AspectClassifier({}, None, None)
    component._words, component._matcher = aspect_words, aspect_words.matcher()
    component._weak, component._fallback = aspect_words.weak_matcher(), aspect_words.fallback_matcher()
    component._classes = ["documents", "legal"]
    sure_legal = np.array([0.1, 0.9])
    assert component.aspects([normalize("quy định về độ tuổi kết hôn hiện nay")], sure_legal) == []
    assert component.aspects([normalize("kết hôn căn cứ pháp lý là luật nào")], sure_legal) == ["legal"]
    assert component.aspects([normalize("khai sinh")], np.array([0.3, 0.4])) == ["documents"]


@pytest.mark.parametrize(
    "text, marked",
    [
        ("còn lệ phí thì sao", "còn lệ phí thì sao"),
        ("con le phi thi sao", "con le phi thi sao"),
        ("Chào BẠN, làm thẻ cccd ở đâu?", "chào bạn làm thẻ căn cước công dân ở đâu"),
        ("đk kết hôn", "đăng ký kết hôn"),
    ],
)
def test_words_typed_with_diacritics_keep_them_in_the_marked_form(text, marked):
    assert normalize_marked(text) == marked


@pytest.mark.parametrize(
    "text, code",
    [
        ("000 00 24 H30 261105 0031 xem giup", "000.00.24.H30-261105-0031"),
        ("000.00.24.h30.261105.0031", "000.00.24.H30-261105-0031"),
        ("mã g22.28.250101.0012 nhé", "G22.28-250101-0012"),
        ("000.00.19.H12-230815-0001", "000.00.19.H12-230815-0001"),
        # dashes for every separator, the agency's dots too
        ("tra giúp 000-00-31-H07-250630-0102 với", "000.00.31.H07-250630-0102"),
        ("g22-28-250101-0012", "G22.28-250101-0012"),
    ],
)
def test_codes_typed_with_spaces_or_dots_are_read_as_codes(text, code):
    assert [c for _, _, c in typed_dossier_codes(text)] == [code]


@pytest.mark.parametrize("text", ["gọi 0912 345 678", "ngày 12.05.2024 nộp 3 bộ", "cmnd 012 345 678 901", "năm 2024 có 365 ngày"])
def test_numbers_in_groups_are_not_codes(text):
    assert typed_dossier_codes(text) == []


def test_a_letter_o_for_a_zero_is_an_attempt_whose_meaning_is_known():
    typed = "OOO.00.24.H3O-261105-OO31"
    assert typed_dossier_codes(typed) == []
    assert find_code_attempts(typed) == [(0, len(typed))]
    assert meant_dossier_code(typed) == "000.00.24.H30-261105-0031"
    assert "mahosotoken" in normalize("ma ho so " + typed)


def _example(act, aspects=(), procedures=(), context=(), register="chat", tags=()):
    return RealExample("x", act, tuple(aspects), tuple(procedures), tuple(context), register, True, tuple(tags))


def test_the_real_set_scores_acts_parts_flows_and_scope():
    pairs = [
        (_example("ask", ["fee", "time"], ["1.1"]), False, Understood("ask", "ask_fee", 0.9, ("fee", "time"), "1.1", 0.01)),
        (_example("ask", ["fee"], ["1.1"]), False, Understood("complain", "feedback", 0.8, (), None, 0.01)),
        (_example("out_of_scope", tags=["rule_question"]), True, Understood("ask", "ask_fee", 0.7, ("fee",), "1.2", 0.01)),
        (_example("out_of_scope", register="formal"), True, Understood("out_of_scope", "out_of_scope", 0.9, (), None, 0.01)),
    ]
    result = score_real(pairs)
    everything = result["splits"]["all"]
    assert everything["act_accuracy"] == 0.5
    assert everything["aspects"] == {"n": 2, "exact": 0.5, "first_right": 0.5}
    assert everything["procedure"] == {"n": 2, "top1": 0.5}
    assert everything["questions_starting_flows"] == {"n": 4, "count": 1}
    assert everything["out_of_scope_answered_with_procedure"]["share"] == 0.5
    assert result["splits"]["register:formal"]["act_accuracy"] == 1.0
    assert result["splits"]["as_folded"]["n"] == 2
    assert {c["kind"] for c in result["confusions"]} == {"act"}


@pytest.mark.parametrize(
    "text, intent, aspects",
    [
        ("Tôi muốn biết thủ tục cấp hộ chiếu có thành phần, số lượng bộ hồ sơ như thế nào?", "ask_documents", ["documents"]),
        ("Hồ sơ đăng ký kết hôn được giải quyết trong bao nhiêu ngày?", "ask_processing_time", ["time"]),
        ("nghi viec roi muon rut bhxh 1 lan can giay to gi", "ask_documents", ["documents"]),
        ("làm hộ chiếu hết bao nhiêu tiền, bao lâu thì có", "ask_fee", ["fee", "time"]),
        ("không đăng ký tạm trú thì bị phạt bao nhiêu tiền", "out_of_scope", []),
        ("Xin hỏi quy định về độ tuổi kết hôn theo luật hiện nay là bao nhiêu?", "out_of_scope", []),
        ("Căn cứ pháp lý của thủ tục đăng ký khai sinh là văn bản nào?", "ask_legal_basis", ["legal"]),
        ("Đề nghị hướng dẫn thủ tục đăng ký khai sinh nộp trực tuyến như thế nào?", "ask_procedure", ["online"]),
    ],
)
def test_the_issues_messages_are_understood(nlu_model, text, intent, aspects):
    parse = nlu_model.parse_sync(text)
    assert (parse.intent, parse.aspects) == (intent, aspects)


@pytest.mark.parametrize(
    "text, intent",
    [("chào ad, cho em hỏi làm căn cước ở đâu ạ", "ask_where"),
     ("em chào anh chị, cho em hỏi làm sổ đỏ mất bao lâu", "ask_processing_time"),
     ("chào bạn", "greet")],
)
def test_a_greeting_before_a_question_leaves_the_question_to_decide(nlu_model, text, intent):
    assert nlu_model.parse_sync(text).intent == intent


def test_a_short_follow_up_naming_no_part_carries_the_part_asked_before(nlu_model):
    parse = nlu_model.parse_sync("còn trên 14 tuổi thì sao")
    assert (parse.intent, parse.aspects, parse.entities.get("follow_up")) == ("ask_procedure", [], "true")
    named = nlu_model.parse_sync("còn lệ phí thì sao")
    assert (named.intent, named.aspects) == ("ask_fee", ["fee"])


def test_a_code_typed_with_spaces_is_a_status_check_with_the_code(nlu_model):
    parse = nlu_model.parse_sync("000 00 24 H30 261105 0031 xem giup")
    assert parse.intent == "check_status"
    assert parse.entities["dossier_code"] == "000.00.24.H30-261105-0031"


def test_a_code_typed_with_dashes_is_a_status_check_not_a_rating(nlu_model):
    parse = nlu_model.parse_sync("000-00-31-H07-250630-0102")
    assert parse.intent == "check_status"
    assert parse.entities["dossier_code"] == "000.00.31.H07-250630-0102"


@pytest.mark.parametrize("text", ["còn lệ phí thì sao", "thế lệ phí bao nhiêu", "vậy mất bao lâu"])
def test_a_follow_up_typed_with_diacritics_names_no_look_alike_procedure(nlu_model, text):
    parse = nlu_model.parse_sync(text)
    assert parse.entities.get("follow_up") == "true"
    assert all(p.score < 0.4 for p in parse.procedures)
