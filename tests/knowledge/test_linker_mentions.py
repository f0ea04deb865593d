"""The linker finds the procedure a person names inside a longer message (through the real model).

A message is rarely only a name: formal openers ("Kính gửi …, đề nghị cho biết"), the words that
ask about a part ("trình tự thực hiện", "thành phần hồ sơ") and the person's own story surround
it. A name mentioned there links as the name alone does, while the words that tell variants apart
("lại", "có yếu tố nước ngoài") still choose the variant. Look-alikes the words cannot tell apart
answer their common case, the others kept in the ranking as its variants.
"""

from __future__ import annotations

import pytest

from knowledge import how_it_differs, link_decision
from knowledge._search import CONFIDENT, MARGIN
from nlu.normalize import LEXICON_FILE, load_lexicon
from nlu.procedure_query import (
    QUESTION_PHRASES_FILE,
    QuestionPhrases,
    TypedShortForms,
    procedure_queries,
    story_queries,
)


def _linked(nlu_model, text: str) -> tuple[str, list]:
    procedures = nlu_model.parse_sync(text).procedures
    return link_decision([p.score for p in procedures]), procedures


@pytest.mark.parametrize(
    "message, code",
    [
        # formal register: opener, aspect heading, the name, a trailing qualifier
        ("Kính gửi Quý cơ quan, đề nghị cho biết thành phần hồ sơ của thủ tục đăng ký khai tử "
         "cho người thân vừa qua đời.", "1.000656"),
        ("Xin hỏi trình tự thực hiện thủ tục đăng ký tạm trú đối với sinh viên thuê phòng trọ?", "1.004194"),
        ("Xin hỏi quy trình cấp giấy phép xây dựng nhà ở riêng lẻ ở nông thôn hiện nay gồm những bước nào, "
         "nộp hồ sơ tại cơ quan nào?", "1.013225"),
        # a story around the name, the question last
        ("Chào anh chị, bà ngoại em năm nay tám mươi tuổi, sống một mình ở quê, tuần trước bà bị ngã nên con "
         "cháu muốn đón bà lên thành phố ở cùng. Cả nhà muốn làm đăng ký thường trú cho bà ở nhà mới thì cần "
         "những giấy tờ gì ạ?", "1.004222"),
    ],
)
def test_a_name_inside_a_long_message_links_as_the_name_alone(nlu_model, message, code):
    decision, procedures = _linked(nlu_model, message)
    assert decision == "confident" and procedures[0].code == code, [(p.code, p.score) for p in procedures]
    assert procedures[0].score >= CONFIDENT


@pytest.mark.parametrize(
    "message, code",
    [
        ("Đề nghị cho biết các bước thực hiện thủ tục đăng ký lại khai sinh khi bản chính đã bị thất lạc.",
         "1.004884"),
        ("Kính gửi cơ quan chức năng, em là người Việt, chồng em quốc tịch Nhật, cho em hỏi đăng ký kết hôn "
         "có yếu tố nước ngoài cần giấy tờ gì ạ", "2.000806"),
    ],
)
def test_the_words_that_tell_variants_apart_still_choose_the_variant(nlu_model, message, code):
    decision, procedures = _linked(nlu_model, message)
    assert decision == "confident" and procedures[0].code == code, [(p.code, p.score) for p in procedures]


def test_the_words_that_ask_about_a_part_name_nothing_alone(nlu_model):
    decision, _ = _linked(nlu_model, "Đề nghị cho biết trình tự thực hiện và thành phần hồ sơ như thế nào?")
    assert decision == "weak"


def test_look_alikes_the_words_cannot_tell_apart_answer_their_common_case(kb):
    # Four records of one procedure, one per level: the name alone fits all of them.
    hits = kb.search("trình báo mất hộ chiếu", k=5)
    alike = kb.look_alikes(hits[0].code, [h.code for h in hits[1:]])
    assert link_decision([h.score for h in hits]) == "confident"
    assert len(alike) >= 2 and all(h.score <= hits[0].score - MARGIN + 1e-9 for h in hits if h.code in alike)


@pytest.mark.parametrize("query", ["đăng ký", "cấp lại"])
def test_the_same_words_fitting_different_procedures_still_ask(kb, query):
    assert link_decision([h.score for h in kb.search(query, k=3)]) == "ambiguous"


@pytest.mark.parametrize(
    "variant, common, says",
    [
        ("2.000528", "1.001193", "có yếu tố nước ngoài"),
        ("1.003583", "1.001193", "lưu động"),
        ("1.014062", "1.014061", "dưới 14 tuổi"),
        ("1.010386", "1.001445", "cấp xã"),
    ],
)
def test_a_variant_says_how_it_differs_from_the_common_case(kb, variant, common, says):
    assert kb.look_alikes(common, [variant]) == [variant]
    assert says in how_it_differs(kb.get(variant), kb.get(common))


def test_different_procedures_sharing_common_words_are_not_look_alikes(kb):
    # "đăng ký kết hôn" and "đăng ký khai sinh kết hợp đăng ký nhận cha, mẹ, con" share "đăng ký", "kết".
    assert kb.look_alikes("1.000894", ["1.000689", "1.004746"]) == ["1.004746"]


def test_a_short_form_typed_with_diacritics_is_expanded_only_as_written():
    lexicon = load_lexicon()
    phrases = QuestionPhrases.from_yaml(QUESTION_PHRASES_FILE, lexicon)
    shorts = TypedShortForms.from_yaml(LEXICON_FILE, lexicon)
    # "hồng" (sổ hồng) is not the chat form "hông" of "không"; "đk" is "đăng ký" however typed
    assert procedure_queries("đổi sổ hồng sang mẫu mới", lexicon, phrases, shorts) == ["đổi sổ hồng sang mẫu mới"]
    assert procedure_queries("đk khai sinh hông", lexicon, phrases, shorts) == ["đăng ký khai sinh không"]


@pytest.mark.parametrize(
    "typed, canonical",
    [
        # a name holding a chat form, typed without marks, stays the name ("hong" is also "không")
        ("so hong bi chay mat roi", "sổ hồng bi chay mat rồi"),
        # the longer short form wins: one licence, not "giấy phép lái xe xe"
        ("bang lai xe o to qua han", "giấy phép lái xe o to qua han"),
    ],
)
def test_the_longest_short_form_wins(typed, canonical):
    lexicon = load_lexicon()
    phrases = QuestionPhrases.from_yaml(QUESTION_PHRASES_FILE, lexicon)
    shorts = TypedShortForms.from_yaml(LEXICON_FILE, lexicon)
    assert procedure_queries(typed, lexicon, phrases, shorts)[0] == canonical


@pytest.mark.parametrize(
    "message, code",
    [
        # the act (a certified copy) is asked, the document it is done to is only its object
        ("mình cần chứng thực bản sao hộ chiếu thì ra đâu làm", "2.000815"),
        ("cong chung ban sao the can cuoc o dau", "2.000815"),
        # the act tells the land-certificate procedures apart: a new one for an old one, not the first one
        ("xin cap doi so do vi so cu rach", "1.012783"),
    ],
)
def test_what_is_done_to_a_document_outweighs_the_document(nlu_model, message, code):
    _, procedures = _linked(nlu_model, message)
    assert procedures and procedures[0].code == code, [(p.code, p.score) for p in procedures]


@pytest.mark.parametrize(
    "message, code",
    [
        # a foreign spouse said by their country, not by the catalog's "có yếu tố nước ngoài"
        ("chồng tôi quốc tịch Đài Loan, làm giấy đăng ký kết hôn ở đâu", "2.000806"),
        # a child's age said as a number
        ("làm căn cước cho bé nhà em 9 tuổi cần mang gì", "1.014062"),
        ("con gái tôi 15 tuổi làm căn cước lần đầu ở đâu", "1.014061"),
        # an age said with its side: "dưới 14 tuổi" is the children's card, not "14 tuổi" and over
        ("làm căn cước cho con dưới 14 tuổi thì cần mang gì", "1.014062"),
        ("lam can cuoc cho nguoi tren 14 tuoi o dau", "1.014061"),
        # an age in a story about another procedure says nothing of the card
        ("mẹ tôi 80 tuổi muốn đăng ký thường trú ở nhà tôi", "1.004222"),
    ],
)
def test_a_variant_said_in_everyday_words_chooses_the_variant(nlu_model, message, code):
    decision, procedures = _linked(nlu_model, message)
    assert decision == "confident" and procedures[0].code == code, [(p.code, p.score) for p in procedures]


@pytest.mark.parametrize(
    "message, code",
    [
        # the story names one procedure, the question another: the question's decides
        ("Bố tôi mất tháng trước, nhà đã làm giấy chứng tử rồi. Giờ mẹ tôi muốn sang tên sổ đỏ của bố "
         "cho mẹ thì làm ở đâu?", "1.013831"),
        ("Năm ngoái tôi mới làm sổ đỏ cho mảnh đất ở quê. Giờ tôi muốn chuyển hộ khẩu về nhà mới thì cần "
         "giấy tờ gì?", "1.004222"),
    ],
)
def test_the_sentence_that_asks_decides_over_the_story(nlu_model, message, code):
    decision, procedures = _linked(nlu_model, message)
    assert decision == "confident" and procedures[0].code == code, [(p.code, p.score) for p in procedures]


def test_the_sentences_before_the_question_are_numbered_as_the_story():
    lexicon = load_lexicon()
    phrases = QuestionPhrases.from_yaml(QUESTION_PHRASES_FILE, lexicon)
    queries = story_queries("Nhà tôi vừa có em bé. Tôi muốn làm khai sinh, cần giấy gì?", lexicon, phrases)
    # the whole message first (after every sentence), then each clause with its sentence
    assert queries[0][1] == 2 and [n for _, n in queries[1:]] == [0, 1, 1]
    assert queries[1][0] == "nhà tôi vừa có em bé" and "khai sinh" in queries[2][0]


def test_a_message_of_question_words_alone_names_nothing(nlu_model):
    assert nlu_model.parse_sync("mất bao lâu").procedures == []


def test_a_colloquial_act_reads_as_no_domain_the_person_did_not_name(kb):
    # "sang tên" is said of land and vehicles alike: its readings add no "xe" to a question about land
    scores = {h.code: h.score for h in kb.search("sang tên nhà đất", k=5)}
    assert max(scores, key=scores.get) == "1.013831" and scores.get("1.013076", 0.0) < CONFIDENT, scores
