"""Linking a chat message to a procedure: calibrated scores the flows can act on.

The flows answer directly when `link_decision` says "confident", offer buttons
when "ambiguous" and ask which procedure when "weak". These tests pin the
behaviour a user notices: a question with no procedure in it links to nothing,
question and filler words around a name do not weaken it, and the common name
of a procedure picks the base record over its variants.
"""

from __future__ import annotations

import pytest

from knowledge import fold, link_decision
from knowledge._search import CONFIDENT, MENTIONED
from knowledge._text import marked_tokens, tokens

# Messages that ask about "the" procedure without naming one (follow-up questions).
GENERIC_ONLY = [
    "mất bao lâu thì có kết quả",
    "lệ phí bao nhiêu vậy",
    "cần giấy tờ gì",
    "nộp ở đâu",
    "hết bao nhiêu tiền",
    "làm ở đâu vậy ạ",
    "có làm online được không",
    "điều kiện là gì",
    "kết quả nhận ở đâu",
    "thời gian giải quyết bao lâu",
    "nộp qua bưu điện được không",
    "căn cứ pháp lý là gì",
    "mất mấy ngày vậy",
    "phí bao nhiêu",
    "cho em hỏi thủ tục này cần những gì ạ",
    "hồ sơ gồm những gì",
    "có mất phí không",
    "bao giờ thì có kết quả ạ",
    "thủ tục đó làm ở đâu",
    "vậy thì sao",
    "xin chào",
]


@pytest.mark.parametrize("message", GENERIC_ONLY + [fold(m) for m in GENERIC_ONLY])
def test_question_without_a_procedure_links_to_nothing(kb, message):
    hits = kb.search(message, k=3)
    assert link_decision([h.score for h in hits]) == "weak", [(h.code, h.score, h.matched) for h in hits]
    assert all(h.score < MENTIONED for h in hits)


# (name people use, the base record it means)
NAMES = [
    ("đăng ký kết hôn", "1.000894"),
    ("khai sinh", "1.001193"),
    ("đăng ký khai sinh", "1.001193"),
    ("khai tử", "1.000656"),
    ("đăng ký tạm trú", "1.004194"),
    ("hộ chiếu", "1.001456"),
    ("đổi căn cước", "1.014063"),
    ("lý lịch tư pháp", "3.000333"),
    ("sang tên sổ đỏ", "1.013831"),
    ("đổi bằng lái xe", "3.000347"),
    ("giấy xác nhận độc thân", "1.004873"),
    ("chứng thực bản sao", "2.000815"),
]
# How people wrap a name in a question.
WRAPPERS = [
    "{} cần giấy tờ gì",
    "{} mất mấy ngày",
    "{} bao nhiêu tiền",
    "làm {} ở đâu",
    "{} như thế nào",
    "{} có được không",
    "{} hết bao lâu",
    "{} thì nộp ở đâu",
    "{} vậy ạ",
    "cho em hỏi {} nhé",
    "làm {} với",
    "thủ tục {} cần những gì ạ",
    "{} lệ phí bao nhiêu vậy",
    "{} bao lâu thì có kết quả",
    "{} thì cần điều kiện gì",
    "{} có làm online được không",
    "ad ơi {} đi đâu làm vậy",
]


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("typed", ["with diacritics", "without diacritics"])
def test_question_words_do_not_dilute_the_name(kb, wrapper, typed):
    problems = []
    for name, code in NAMES:
        message = wrapper.format(name)
        bare = name
        if typed == "without diacritics":
            message, bare = fold(message), fold(name)
        alone = kb.search(bare, k=1)[0].score
        hits = kb.search(message, k=3)
        scores = [h.score for h in hits]
        if not hits or hits[0].code != code or link_decision(scores) != "confident" or scores[0] < alone - 0.06:
            problems.append((message, alone, [(h.code, h.score) for h in hits[:2]]))
    assert not problems


@pytest.mark.parametrize(
    "message, code",
    [
        ("lam khai sinh can j", "1.001193"),
        ("dk ket hon bn tien z", "1.000894"),
        ("cho e hoi doi cccd ntn", "1.014063"),
        ("đk tạm trú hết bn tiền vậy ad", "1.004194"),
    ],
)
def test_chat_short_forms_do_not_dilute_the_name(kb, message, code):
    hits = kb.search(message, k=3)
    assert hits[0].code == code and link_decision([h.score for h in hits]) == "confident"


@pytest.mark.parametrize(
    "message, code, variants",
    [
        ("đăng ký kết hôn", "1.000894", {"1.004746", "2.000806", "1.000593"}),
        ("dang ky ket hon", "1.000894", {"1.004746", "2.000806", "1.000593"}),
        ("dang ky ket hon mat may ngay", "1.000894", {"1.004746", "2.000806", "1.000593"}),
        ("khai sinh", "1.001193", {"1.004884", "1.000689"}),
        ("lam giay khai sinh can giay to gi", "1.001193", {"1.004884", "1.000689"}),
        ("khai tử", "1.000656", {"1.005461"}),
    ],
)
def test_common_name_picks_the_base_record_over_its_variants(kb, message, code, variants):
    hits = kb.search(message, k=6)
    assert hits[0].code == code
    assert variants <= {h.code for h in hits[1:]}  # the variants are found, just behind
    assert link_decision([h.score for h in hits]) == "confident"


@pytest.mark.parametrize(
    "message, code",
    [
        ("đăng ký kết hôn lưu động", "1.000593"),
        ("đăng ký lại kết hôn", "1.004746"),
        ("kết hôn với người nước ngoài", "2.000806"),
        ("đăng ký lại khai sinh", "1.004884"),
    ],
)
def test_a_variant_named_in_full_wins(kb, message, code):
    hits = kb.search(message, k=3)
    assert hits[0].code == code and link_decision([h.score for h in hits]) == "confident"


def test_a_name_inside_a_long_message_is_still_found(kb):
    hits = kb.search("nhà em vừa có em bé muốn đăng ký khai sinh cho cháu", k=3)
    assert hits[0].code == "1.001193" and hits[0].score >= CONFIDENT


@pytest.mark.parametrize("query", ["đăng ký", "giấy phép", "xe", "bảo hiểm", "cấp lại"])
def test_vague_queries_offer_a_choice(kb, query):
    hits = kb.search(query, k=3)
    assert link_decision([h.score for h in hits]) == "ambiguous"


def test_diacritics_typed_count_more_than_the_bare_letters(kb):
    exact = kb.search("đăng ký kết hôn", k=1)[0]
    wrong_mark = kb.search("đăng ký kết hơn", k=1)[0]  # "hơn" is not "hôn"
    bare = kb.search("dang ky ket hon", k=1)[0]
    assert exact.code == wrong_mark.code == bare.code == "1.000894"
    assert exact.score == bare.score > wrong_mark.score


def test_a_filler_does_not_match_the_word_it_folds_onto(kb):
    # "thì" is a filler, "thi" (dự thi) is a word of names.
    typed_thi = kb.search("dự thi kiểm toán viên", k=1)[0]
    typed_thi_filler = kb.search("dự thì kiểm toán viên", k=1)[0]
    assert typed_thi.score > typed_thi_filler.score
    assert "dự thi" in kb.search("đăng ký dự thi", k=1)[0].name


@pytest.mark.parametrize(
    "query, words",
    [
        ("can cuoc", "căn cước"),  # "can" may be "cần", but goes with "cuoc"
        ("thi thuc", "thị thực"),  # "thi" may be "thì", but goes with "thuc"
        ("cửa khẩu", "cửa khẩu"),  # "của" is a filler, "cửa" is not
    ],
)
def test_a_word_that_might_be_a_filler_still_names_with_its_partner(kb, query, words):
    assert words in kb.search(query, k=1)[0].name.lower()


@pytest.mark.parametrize("message", ["le phi bao nhieu vay", "mat bao lau thi co ket qua", "can gi", "thi sao"])
def test_words_that_might_be_fillers_do_not_link_alone(kb, message):
    assert link_decision([h.score for h in kb.search(message, k=3)]) == "weak"


@pytest.mark.parametrize(
    "scores, decision",
    [
        ([], "weak"),
        ([0.39], "weak"),
        ([0.45], "ambiguous"),
        ([0.56], "confident"),
        ([0.7, 0.63], "ambiguous"),
        ([0.7, 0.62], "confident"),
        ([1.0, 0.95], "confident"),
        ([1.0, 1.0], "ambiguous"),
    ],
)
def test_link_decision_bands(scores, decision):
    assert link_decision(scores) == decision


NAUGHTY = [
    "Thì có kết quả ĐK",
    "hoá hóa thuỷ thủy",
    "mức độ 02",
    "👍 sổ đỏ",
    "İstanbul ﬁle ǅ x\u0301y",
    "abc_déf 3,5 30-4 vắc-xin",
    "b\u0301c \u0301ab K ÀÁ",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "'; DROP TABLE procedures; --",
    "null\x00byte",
    "",
]


@pytest.mark.parametrize("text", NAUGHTY)
def test_marked_tokens_are_the_search_tokens_with_their_spelling(text):
    assert [token for token, _ in marked_tokens(text)] == tokens(text)


def test_marked_tokens_agree_with_tokens_over_the_catalog(kb):
    for procedure in kb.procedures[::7]:
        assert [token for token, _ in marked_tokens(procedure.name)] == tokens(procedure.name), procedure.code


@pytest.mark.parametrize(
    "first, second, same",
    [("hoá", "hóa", True), ("thuỷ", "thủy", True), ("Đăng", "đăng", True), ("thì", "thi", False), ("căn", "cần", False)],
)
def test_spelling_ignores_tone_placement_and_case(first, second, same):
    assert (marked_tokens(first) == marked_tokens(second)) is same
