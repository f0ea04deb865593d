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
        ("đổi bằng lái mất bao nhiêu tiền", ["doi giay phep lai xe"]),
        ("doi bang lai mat bn tien", ["doi giay phep lai xe"]),
        ("dang ky ket hon online tren cong dich vu cong quoc gia", ["dang ky ket hon"]),
        ("khai tử theo quy định nào", ["khai tu"]),
        ("làm cccd ở đâu", ["lam can cuoc cong dan o dau"]),
        ("tra cứu hồ sơ 000.00.19.H12-230815-0001", ["tra cuu ho so"]),
        ("mất bao lâu?", []),
        ("Mã 000.00.19.H12 - 230815 - 0001, gọi 0912.345.678", ["ma goi", "ma", "goi"]),
    ],
)
def test_question_words_are_dropped_before_searching(phrases, text, expected):
    assert procedure_queries(text, load_lexicon(), phrases) == expected


def test_a_long_message_is_searched_whole_and_clause_by_clause(phrases):
    text = "Bố em mới mất hôm qua. Giờ em muốn làm giấy chứng tử cho bố, cần mang những gì ạ?"
    queries = procedure_queries(text, load_lexicon(), phrases)
    assert queries[0].startswith("bo em moi mat hom qua gio em muon lam giay chung tu")
    assert queries[1:] == ["bo em moi mat hom qua", "gio em muon lam giay chung tu cho bo", "can mang nhung gi a"]


def test_the_phrase_file_must_group_its_phrases(tmp_path):
    path = tmp_path / "phrases.yml"
    path.write_text("- mất bao lâu\n", encoding="utf-8")
    with pytest.raises(ValueError, match="groups of phrases"):
        QuestionPhrases.from_yaml(path, load_lexicon())
