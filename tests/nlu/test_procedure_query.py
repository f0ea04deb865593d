import pytest

from nlu.normalize import load_lexicon
from nlu.procedure_query import QUESTION_PHRASES_FILE, QuestionPhrases, procedure_queries


@pytest.fixture(scope="module")
def phrases():
    return QuestionPhrases.from_yaml(QUESTION_PHRASES_FILE, load_lexicon())


@pytest.mark.parametrize(
    "text, expected",
    [
        # "mất" asks about the fee here; left in, it reads as "lost" (cấp lại)
        ("đổi bằng lái mất bao nhiêu tiền", ["đổi giấy phép lái xe"]),
        ("doi bang lai mat bn tien", ["doi giấy phép lái xe"]),
        ("dang ky ket hon online tren cong dich vu cong quoc gia", ["dang ky ket hon"]),
        ("khai tử theo quy định nào", ["khai tử"]),
        ("làm cccd ở đâu", ["làm căn cước công dân ở đâu"]),
        ("tra cứu hồ sơ 000.00.19.H12-230815-0001", ["tra cứu hồ sơ"]),
        ("mất bao lâu?", []),
        # a word typed with diacritics keeps them: "còn" (still) is not "con" (a child)
        ("còn lệ phí thì sao", ["còn lệ phí thì sao"]),
        ("con le phi thi sao", ["con le phi thi sao"]),
        ("Mã 000.00.19.H12 - 230815 - 0001, gọi 0912.345.678", ["mã gọi", "mã", "gọi"]),
    ],
)
def test_question_words_are_dropped_before_searching(phrases, text, expected):
    assert procedure_queries(text, load_lexicon(), phrases) == expected


def test_a_long_message_is_searched_whole_and_clause_by_clause(phrases):
    text = "Bố em mới mất hôm qua. Giờ em muốn làm giấy chứng tử cho bố, cần mang những gì ạ?"
    queries = procedure_queries(text, load_lexicon(), phrases)
    assert queries[0].startswith("bố em mới mất hôm qua giờ em muốn làm giấy chứng tử")
    assert queries[1:] == ["bố em mới mất hôm qua", "giờ em muốn làm giấy chứng tử cho bố", "cần mang những gì ạ"]


def test_the_phrase_file_must_group_its_phrases(tmp_path):
    path = tmp_path / "phrases.yml"
    path.write_text("- mất bao lâu\n", encoding="utf-8")
    with pytest.raises(ValueError, match="groups of phrases"):
        QuestionPhrases.from_yaml(path, load_lexicon())


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("còn lệ phí thì sao", "1.001022"),  # nhận cha, mẹ, con
        ("chào bạn, mẹ tôi 70 tuổi muốn làm thẻ căn cước thì làm ở đâu", "3.000519"),  # chào bán chứng quyền
    ],
)
def test_words_typed_with_diacritics_do_not_link_to_look_alike_words(text, wrong):
    from knowledge import load_knowledge

    kb = load_knowledge()
    phrases = QuestionPhrases.from_yaml(QUESTION_PHRASES_FILE, load_lexicon())
    queries = procedure_queries(text, load_lexicon(), phrases)
    found = [code for query in queries for code, score, _ in kb.index.search(query, 3) if score >= 0.4]
    assert wrong not in found
