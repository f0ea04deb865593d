"""What a message's shape says when its words cannot: codes are status checks, bare names are questions."""

import pytest

from nlu.normalize import DOSSIER_TOKEN, normalize

CODE_ATTEMPTS = [
    "000.00.19.H12-261O16-0012",          # letter O for a zero: not a valid code, still a code
    "000.00.19 h12 261020 0007",
    "ma ho so cua toi la H12-26102O-0007",
    "261020-0007",
]


@pytest.mark.parametrize("text", CODE_ATTEMPTS)
def test_a_mistyped_code_is_masked_like_a_code_not_left_as_digits(text):
    normalized = normalize(text)
    assert DOSSIER_TOKEN in normalized and not any(c.isdigit() for c in normalized)


def test_money_and_phone_numbers_are_not_taken_for_codes():
    assert DOSSIER_TOKEN not in normalize("lệ phí 100.000 đồng, gọi 0912 345 678")


@pytest.mark.parametrize("text", CODE_ATTEMPTS)
async def test_a_code_shaped_message_is_a_status_check_even_when_mistyped(text, nlu_model):
    result = await nlu_model.parse(text)
    assert result.intent == "check_status" and result.confidence >= 0.5


def decided(text, ranking, **found):
    """The act the intent classifier decides for a message the classifier ranked so, with what the
    linker and the aspect classifier found (bare_name, part_named, rule_question, procedures)."""
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from nlu.components.intent_classifier import ArrayLogisticRegressionClassifier
    from nlu.components.normalizer import ORIGINAL_TEXT

    classifier = ArrayLogisticRegressionClassifier({}, "classifier", None, None)
    message = Message(data={TEXT: normalize(text), ORIGINAL_TEXT: text, **found})
    ranked = [{"name": n, "confidence": c} for n, c in sorted(ranking.items(), key=lambda x: -x[1])]
    first = classifier._decide(message, ranked)[0]
    return first["name"], first["confidence"]


@pytest.mark.parametrize("text, intent, confidence", [
    ("khai sinh", "deny", 0.54), ("ho chieu", "greet", 0.37), ("tam tru", "rate_service", 0.62),
])
def test_a_bare_procedure_name_is_a_question_about_it(text, intent, confidence):
    name, sure = decided(text, {intent: confidence, "ask_procedure": 0.1}, bare_name=True)
    assert name == "ask_procedure" and sure >= 0.5


@pytest.mark.parametrize("text, intent, confidence, bare", [
    ("cảm ơn", "thank", 0.98, True),             # sure of its intent
    ("khai sinh", "deny", 0.54, False),          # the name is not clear enough
    ("tôi đã đi làm khai sinh cho con hôm qua nhưng cán bộ bảo thiếu giấy", "feedback", 0.3, False),  # long
    ("khai sinh online", "ask_howto_online", 0.45, True),  # an unsure walk-through request keeps its reading
])
def test_other_messages_keep_what_the_classifier_said(text, intent, confidence, bare):
    assert decided(text, {intent: confidence, "ask_procedure": 0.1}, bare_name=bare)[0] == intent


def test_naming_a_part_is_no_small_talk():
    ranking = {"help": 0.7, "ask_procedure": 0.2}
    linked = [{"code": "1.001456", "name": "Cấp hộ chiếu phổ thông", "score": 0.95}]
    assert decided("cho tôi hỏi các bước làm hộ chiếu", ranking, part_named=True, procedures=linked)[0] == "ask_procedure"
    assert decided("cho tôi hỏi thủ tục", ranking, part_named=False, procedures=linked)[0] == "help"


def test_a_named_procedure_the_classifier_half_reads_as_out_of_scope_is_a_question():
    linked = [{"code": "1.001193", "name": "Đăng ký khai sinh", "score": 0.95}]
    ranking = {"out_of_scope": 0.6, "ask_procedure": 0.3}
    assert decided("khai sinh cho con nuôi nhờ", ranking, procedures=linked)[0] == "ask_procedure"
    assert decided("khai sinh cho con nuôi nhờ", ranking, procedures=[])[0] == "out_of_scope"


def test_a_question_about_what_a_rule_says_is_out_of_scope():
    assert decided("tuổi kết hôn theo luật", {"ask_procedure": 0.8, "out_of_scope": 0.2}, rule_question=True)[0] == "out_of_scope"


@pytest.mark.parametrize("text, aspects", [
    ("đăng ký khai sinh", ["documents"]),   # a name alone asks the common case
    ("lệ phí khai sinh", ["fee"]),          # a part named in words is kept
    ("cho tôi xin mẫu CT01", ["forms"]),    # a form code names the form
])
def test_a_short_name_asks_the_documents_unless_it_names_a_part(text, aspects, nlu_model):
    assert nlu_model.parse_sync(text).aspects == aspects


@pytest.mark.parametrize("text", ["đăng ký khai sinh", "dang ky khai sinh"])
async def test_a_procedure_name_typed_alone_is_understood_as_a_question(text, nlu_model):
    result = await nlu_model.parse(text)
    assert result.intent == "ask_documents" and result.confidence >= 0.5
