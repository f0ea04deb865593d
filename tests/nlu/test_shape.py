"""What a message's shape says when its words cannot: codes are status checks, bare names are questions."""

from dataclasses import replace

import pytest

from nlu.model import read_bare_name
from nlu.normalize import DOSSIER_TOKEN, normalize
from nlu.result import ParseResult, ProcedureMatch


def parse(text, intent, confidence, top=0.0, **entities):
    procedures = [ProcedureMatch("1.001193", "Thủ tục đăng ký khai sinh", top)] if top else []
    return ParseResult(text=text, intent=intent, confidence=confidence, entities=entities, procedures=procedures)


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


@pytest.mark.parametrize("text, intent, confidence", [
    ("khai sinh", "deny", 0.54), ("ho chieu", "greet", 0.37), ("tam tru", "rate_service", 0.62),
])
def test_a_bare_procedure_name_is_a_question_about_it(text, intent, confidence):
    result = read_bare_name(parse(text, intent, confidence, top=0.95))
    assert result.intent == "ask_documents" and result.confidence >= 0.5


@pytest.mark.parametrize("text, intent, confidence, top", [
    ("cảm ơn", "thank", 0.98, 0.95),            # sure of its intent
    ("khai sinh", "deny", 0.54, 0.7),           # the name is not clear enough
    ("lệ phí khai sinh", "ask_fee", 0.4, 0.95), # already a question about the procedure
    ("tôi đã đi làm khai sinh cho con hôm qua nhưng cán bộ bảo thiếu giấy", "feedback", 0.3, 0.95),  # long
])
def test_other_messages_keep_what_the_classifier_said(text, intent, confidence, top):
    assert read_bare_name(parse(text, intent, confidence, top=top)).intent == intent


@pytest.mark.parametrize("text, intent, aspects", [
    ("đăng ký khai sinh", "ask_conditions", ["conditions"]),  # a part the classifier guessed from the name alone
    ("cho tôi xin mẫu CT01", "ask_documents", ["forms"]),
])
def test_a_name_the_classifier_half_reads_as_some_part_asks_the_documents(text, intent, aspects):
    result = read_bare_name(replace(parse(text, intent, 0.41, top=0.99), aspects=aspects), part_named=False)
    assert (result.intent, result.aspects) == ("ask_documents", ["documents"]) and result.confidence >= 0.5


def test_a_part_named_in_words_is_kept_when_the_classifier_is_unsure():
    result = read_bare_name(replace(parse("lệ phí khai sinh", "ask_fee", 0.4, top=0.99), aspects=["fee"]), part_named=True)
    assert (result.intent, result.aspects) == ("ask_fee", ["fee"]) and result.confidence >= 0.5


def test_an_unsure_walk_through_request_keeps_its_reading():
    assert read_bare_name(parse("khai sinh online", "ask_howto_online", 0.45, top=0.99)).intent == "ask_howto_online"


@pytest.mark.parametrize("text", ["đăng ký khai sinh", "dang ky khai sinh"])
async def test_a_procedure_name_typed_alone_is_understood_as_a_question(text, nlu_model):
    result = await nlu_model.parse(text)
    assert result.intent == "ask_documents" and result.confidence >= 0.5
