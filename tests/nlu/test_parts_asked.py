"""Which part of a procedure a person asks, on phrasings a user would type (issue 11, second pass).

The word-list rules are checked without a model; the rest parse with the real trained model
(the `nlu_model` fixture). Messages are written for this file, not taken from the DEV sets.
"""

import pytest

from nlu.acts import ActWords, AspectWords, PhraseSet, asking_clauses, typed_forms
from nlu.normalize import normalize


@pytest.mark.parametrize(
    "text, aspects",
    [
        ("ông ngoại đi khai sinh thay cho cháu có được không", ["who"]),
        ("ai phải đứng ra đăng ký khai tử cho bác tôi", ["who"]),
        ("Kính gửi Quý cơ quan, đề nghị cho biết đối tượng được cấp thẻ bảo hiểm y tế miễn phí", ["who"]),
    ],
)
def test_a_question_about_the_person_reads_as_who(nlu_model, text, aspects):
    parse = nlu_model.parse_sync(text)
    assert parse.aspects[:1] == aspects
    assert parse.intent in ("ask_procedure", "ask_conditions")


@pytest.mark.parametrize(
    "text",
    ["Đề nghị hướng dẫn các bước cấp đổi giấy chứng nhận quyền sử dụng đất",
     "cho mình hỏi các bước đăng ký hộ kinh doanh với",
     "anh chị chỉ giúp các bước đăng ký hộ kinh doanh với"],
)
def test_asking_for_the_steps_is_a_question_not_the_online_walk_through(nlu_model, text):
    parse = nlu_model.parse_sync(text)
    assert parse.intent == "ask_procedure"
    assert parse.aspects == ["steps"]


def test_asking_to_be_walked_through_an_online_submission_still_is(nlu_model):
    assert nlu_model.parse_sync("hướng dẫn tôi nộp hồ sơ đăng ký tạm trú trên vneid").intent == "ask_howto_online"


@pytest.mark.parametrize("text", ["mẫu CT02 lấy ở đâu", "mau HK02 tai o dau vay", "tờ khai TK02 tải ở đâu ạ"])
def test_a_form_code_asks_for_the_form_and_where_to_get_it_is_part_of_that(nlu_model, text):
    parse = nlu_model.parse_sync(text)
    assert parse.aspects == ["forms"]


@pytest.mark.parametrize(
    "text, aspects",
    [
        ("đổi bằng lái xe có phải khám sức khỏe không, làm ở đâu", {"conditions", "where"}),
        ("cấp lại sổ đỏ cần những giấy tờ gì, mất mấy tuần", {"documents", "time"}),
        ("lam can cuoc cho con o dau, co mat phi khong", {"where", "fee"}),
        ("đổi họ cho con sau ly hôn có được không và cần những giấy tờ gì", {"conditions", "documents"}),
    ],
)
def test_both_questions_of_a_two_question_message_are_kept(nlu_model, text, aspects):
    assert set(nlu_model.parse_sync(text).aspects) == aspects


def test_the_question_at_the_end_of_a_long_story_decides_the_part(nlu_model):
    story = ("Tôi về quê ngoại sống được hai năm, nhà cũ ở thành phố đã bán, không có giấy tờ gì ở quê. "
             "Con tôi sắp vào lớp một, trường đòi xác nhận cư trú. Tôi xin giấy đó ở đâu?")
    parse = nlu_model.parse_sync(story)
    assert parse.intent == "ask_where"
    assert parse.aspects == ["where"]


def test_how_many_weeks_asks_the_time_not_the_fee(nlu_model):
    assert nlu_model.parse_sync("cap doi so do thi phai cho bao nhieu tuan").aspects == ["time"]


def test_only_the_sentences_with_a_question_mark_ask_when_there_is_one():
    asking = ActWords.from_yaml().sets()[1]
    clauses = asking_clauses("Nhà tôi không có giấy tờ gì. Giờ làm sổ ở đâu, mất bao lâu?", asking)
    assert clauses == [["gio lam so o dau", "mat bao lau"]]


def test_a_bad_anchor_pattern_is_refused_with_the_file(tmp_path):
    path = tmp_path / "aspects.yml"
    path.write_text("anchor_patterns:\n  forms: ['mau (']\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"aspects\.yml.*forms"):
        AspectWords.from_yaml(path)


def test_words_needed_by_an_act_without_words_are_refused_with_the_file(tmp_path):
    path = tmp_path / "act_words.yml"
    path.write_text("acts: {feedback: [phản ánh]}\nneeds_one_of: {ask_howto_online: [nộp]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"act_words\.yml.*ask_howto_online"):
        ActWords.from_yaml(path)


def test_a_child_typed_without_diacritics_is_not_a_follow_up(aspect_words):
    assert not aspect_words.is_follow_up("con toi 12 tuoi lam can cuoc duoc chua")
    assert aspect_words.is_follow_up("con le phi")
    assert aspect_words.is_follow_up("con toi thi sao")


@pytest.fixture(scope="module")
def aspect_words():
    return AspectWords.from_yaml()


@pytest.mark.parametrize("text, aspect", [("còn thời gian giải quyết", "time"), ("thế phí", "fee")])
def test_a_short_follow_up_naming_a_part_is_a_question_about_it(nlu_model, text, aspect):
    parse = nlu_model.parse_sync(text)
    assert parse.aspects == [aspect] and parse.confidence >= 0.5


def test_a_procedure_named_with_its_part_is_understood_when_the_classifier_hesitates(nlu_model):
    parse = nlu_model.parse_sync("đăng ký tạm vắng có bắt buộc không")
    assert parse.aspects == ["conditions"] and parse.confidence >= 0.5


def test_in_a_story_without_a_question_mark_the_question_starts_where_it_says_it_asks():
    words = ActWords.from_yaml()
    asking, saying = words.sets()[1], PhraseSet(words.saying_asking)
    story = "Nhà tôi không có giấy tờ gì. Bố tôi mất rồi. Tôi muốn hỏi làm sổ thì nộp ở đâu"
    assert asking_clauses(story, asking, None, saying) == [["toi muon hoi lam so thi nop o dau"]]


def test_which_of_two_people_asks_who(nlu_model):
    assert nlu_model.parse_sync("đăng ký lưu trú cho sinh viên thuê trọ thì chủ nhà làm hay sinh viên làm").aspects == ["who"]


@pytest.mark.parametrize(
    "text", ["Xin chào, tôi cần hỏi vài thông tin về thủ tục", "cho em hỏi thông tin cá nhân cần khai những gì"]
)
def test_asking_about_information_is_no_request_to_delete_it(nlu_model, text):
    assert nlu_model.parse_sync(text).intent != "delete_my_data"


def test_a_typed_request_to_delete_ones_data_is_understood(nlu_model):
    assert nlu_model.parse_sync("làm ơn xóa hết thông tin của tôi trên hệ thống").intent == "delete_my_data"


def _anchored(words, text):
    found = words.matcher().find(normalize(text), typed_forms(text))
    return found + [a for a in words.weak_matcher().find(normalize(text), typed_forms(text)) if a not in found]


@pytest.mark.parametrize(
    "other, spelled, folded, aspect",
    [
        # the same folded words typed with other diacritics are other words; typed with the
        # anchor's own, or without any, they anchor
        ("mai tôi đi cũng không kịp", "bố mẹ đi cùng không", "bo me di cung khong", "who"),
        ("có căn hộ chung cư", "có cần giấy gì không", "co can giay gi khong", "conditions"),
        ("sáng nay tôi làm hồ rồi", "chị làm hộ em được không", "chi lam ho em duoc khong", "who"),
    ],
)
def test_a_word_typed_with_diacritics_matches_only_an_anchor_spelled_so(aspect_words, other, spelled, folded, aspect):
    assert aspect not in _anchored(aspect_words, other)
    assert aspect in _anchored(aspect_words, spelled)
    assert aspect in _anchored(aspect_words, folded)


@pytest.mark.parametrize("text", ["làm hộ chiếu cho bé ở đâu", "lam ho chieu cho be o dau", "lam ho so o dau"])
def test_an_anchor_does_not_cut_through_a_word_of_its_own(aspect_words, text):
    assert _anchored(aspect_words, text) == ["where"]


@pytest.mark.parametrize("text", ["bà ngoại làm hộ cho cháu được không", "ba ngoai lam ho cho chau duoc khong"])
def test_doing_it_for_someone_asks_who_in_both_spellings(nlu_model, text):
    assert nlu_model.parse_sync(text).aspects == ["who"]


@pytest.mark.parametrize("text", ["có căn cước rồi thì làm hộ chiếu ở đâu", "co can cuoc roi thi lam ho chieu o dau"])
def test_an_id_card_and_a_passport_are_no_who_or_conditions(nlu_model, text):
    assert nlu_model.parse_sync(text).aspects == ["where"]


@pytest.mark.parametrize("text, aspect", [("lê phi cấp lại là bao nhiêu", "fee"), ("căn cư luât nào", "legal")])
def test_a_mark_left_out_is_no_evidence_against_an_anchor(aspect_words, text, aspect):
    assert aspect in _anchored(aspect_words, text)


@pytest.mark.parametrize(
    "text", ["bắt đầu nộp hồ sơ xin phiếu lý lịch tư pháp nhé", "bat dau nop ho so dang ky thuong tru cho toi"]
)
def test_saying_to_start_the_submission_is_the_walk_through_not_a_question(nlu_model, text):
    # "bắt đầu" folds to "bat dau", which holds "đâu" (where): the act's own words ask nothing
    assert nlu_model.parse_sync(text).intent == "ask_howto_online"


def test_asking_when_submissions_start_is_still_a_question(nlu_model):
    assert nlu_model.parse_sync("khi nào bắt đầu nộp hồ sơ đăng ký đất đai").intent != "ask_howto_online"


@pytest.mark.parametrize("text", ["anh này muốn gặp cán bộ một cửa", "co nay can gap nhan vien ho tro"])
def test_a_relay_asking_for_a_person_is_a_handover(nlu_model, text):
    assert nlu_model.parse_sync(text).intent == "request_human"


@pytest.mark.parametrize(
    "text", ["chậm đăng ký khai sinh cho con có bị xử phạt không", "dang ky tam tru muon thi muc phat la bao nhieu"]
)
def test_a_question_about_a_penalty_is_out_of_scope_though_it_names_a_procedure(nlu_model, text):
    assert nlu_model.parse_sync(text).intent == "out_of_scope"


@pytest.mark.parametrize("text", ["cấp lại sổ đỏ hết bao nhiu tiền", "het nhiu tien vay a"])
def test_teencode_for_how_much_money_asks_the_fee(nlu_model, text):
    parse = nlu_model.parse_sync(text)
    assert parse.intent == "ask_fee" and parse.aspects == ["fee"]
