"""The search's work is bounded by the query's length, whatever its synonyms (issue 14, finding 1).

"cưới " x 16 once built 2**16 readings of the same words (7.8 s); 1,000 characters of
"giấy khai sinh " froze the server. The work is counted here (readings built, typo
corrections looked up), not timed: bench/search_cost.py has the times.
"""

from __future__ import annotations

import unicodedata

import pytest

from knowledge._search import SearchIndex

# Readings one search may build (`_MAX_COMBINATIONS` in knowledge/_search.py).
READINGS_BOUND = 64
NFD = unicodedata.normalize("NFD", "giấy khai sinh ")


def _repeated(phrase: str, chars: int = 1000) -> str:
    return (phrase * (chars // len(phrase) + 1))[:chars]


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many readings the search builds (one `_roles` call each); fails as soon as it passes the bound."""
    calls = [0]
    roles = SearchIndex._roles

    def counted(self: SearchIndex, words):  # type: ignore[no-untyped-def]
        calls[0] += 1
        assert calls[0] <= READINGS_BOUND, "the search built more readings than the bound allows"
        return roles(self, words)

    monkeypatch.setattr(SearchIndex, "_roles", counted)
    return calls


@pytest.mark.parametrize(
    "phrase", ["cưới ", "giấy khai sinh ", "cuoi ", "sổ đỏ, ", "lấy vợ lấy chồng ", "hộ khẩu nhập khẩu ", NFD]
)
@pytest.mark.parametrize("chars", [80, 300, 1000])
def test_a_repeated_synonym_is_one_choice_however_often_it_is_typed(kb, built, phrase, chars):
    kb.search(_repeated(phrase, chars))
    # Each distinct phrase as typed or one of its readings, once: "hộ khẩu" and "nhập khẩu" have two each.
    assert built[0] <= 3 * 3


def test_every_synonym_phrase_at_once_builds_at_most_the_bound(kb, built):
    keys = [" ".join(key) for key in kb.index._synonym_readings]
    assert len(keys) > 6  # 2**len(keys) ways to read them all
    kb.search(" ".join(keys)[:1000])
    kb.search(", ".join(reversed(keys))[:1000])
    assert 0 < built[0] <= 2 * READINGS_BOUND


def test_the_counted_work_grows_with_the_length_not_the_readings(kb):
    for phrase in ("cưới ", "giấy khai sinh ", "bằng lái xe sổ đỏ cưới "):
        short, long = kb.index.work(_repeated(phrase, 100)), kb.index.work(_repeated(phrase, 1000))
        assert long["combinations"] == short["combinations"] <= 8
        assert long["readings"] == short["readings"]
        assert long["words"] <= 11 * short["words"]


def test_a_word_is_corrected_once_per_search_not_once_per_reading(kb, monkeypatch):
    calls: dict[str, int] = {}
    correct = SearchIndex._correct

    def counted(self, word):  # type: ignore[no-untyped-def]
        calls[word] = calls.get(word, 0) + 1
        return correct(self, word)

    monkeypatch.setattr(SearchIndex, "_correct", counted)
    kb.search("sổ đỏ bằng lái cưới khaii sinhh " * 20)
    assert calls and max(calls.values()) == 1


@pytest.mark.parametrize(
    "query, code",
    [("cưới " * 16, "1.000894"), ("giấy khai sinh " * 20, "1.001193"), (_repeated("giấy khai sinh ", 1000), "1.001193")],
)
def test_the_freezing_messages_still_find_their_procedure(kb, query, code):
    assert kb.search(query, 3)[0].code == code


def test_linking_a_long_message_does_the_same_bounded_work(kb):
    """The linker's light words (nlu/aspects.yml anchors) are found in one pass over each reading."""
    from knowledge._search import LightWords
    from nlu.procedure_query import asking_words

    light = LightWords(asking_words())
    for phrase in ("cưới ", "thành phần hồ sơ giấy khai sinh ", "trình tự thực hiện sổ đỏ, "):
        short, long = kb.index.work(_repeated(phrase, 100), light), kb.index.work(_repeated(phrase, 1000), light)
        assert long["combinations"] == short["combinations"] <= 8
        assert long["readings"] == short["readings"]
        assert long["words"] <= 11 * short["words"]
