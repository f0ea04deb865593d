"""Vietnamese-shaped input for property tests: what citizens type, and what breaks naive code.

Repeated phrases (colloquial synonyms, procedure names: "cưới " x 16 once froze the server),
long stories up to and past the NLU cut, decomposed (NFD) text, zero-width characters, emoji,
other scripts, lone surrogates (a JSON body can carry "\\ud800"), NUL, and text that looks like
a button payload ("/ask_fee{...").
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache

from hypothesis import strategies as st

from bot.assistant import MAX_NLU_CHARS

# Questions and story sentences as people write them, with and without diacritics.
SENTENCES = (
    "làm giấy khai sinh cần giấy tờ gì", "lam giay khai sinh can giay to gi", "đăng ký kết hôn mất mấy ngày",
    "lệ phí làm sổ đỏ bao nhiêu", "bố em mới mất, giờ em muốn làm giấy chứng tử cho bố",
    "cho em hỏi nộp hồ sơ ở đâu ạ", "tra cứu hồ sơ 000.00.19.H12-261116-0012", "tôi muốn gặp cán bộ",
    "xoá dữ liệu của tôi", "có", "không", "thôi", "tiếp tục", "ok", "a", "ạ", "cảm ơn", "xin chào",
    "nhà em vừa có em bé, vợ em sinh ở bệnh viện huyện", "đổi bằng lái xe hết hạn", "cccd gắn chip làm ở đâu",
    "đk tạm trú cho sinh viên thuê trọ", "số điện thoại của tôi là 0912 345 678", "phản ánh cán bộ làm chậm",
)
# Phrases that once multiplied the search's work when repeated.
REPEATED = ("cưới ", "giấy khai sinh ", "sổ đỏ ", "lấy vợ ", "hộ khẩu ", "bằng lái ", "sang tên ", "công chứng ",
            "khai sinh ", "kết hôn ", "cuoi ", "so do ")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e")
EMOJI = ("👍", "🙏", "😭", "👨‍👩‍👧", "🇻🇳", "❤️", "🗑", "⏳")
OTHER_SCRIPTS = ("привет", "你好", "مرحبا", "שלום", "こんにちは", "ΑΒΓ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ﬁ", "Ⅻ")
INTENTS = ("ask_fee", "ask_documents", "choose", "rate_service", "xoadulieu", "delete_my_data", "resume", "cancel",
           "affirm", "check_status", "request_human", "help", "no_such_intent", "ask_procedure")


@lru_cache(maxsize=1)
def _knowledge_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(synonym phrases, procedure names) of the shipped knowledge base."""
    from knowledge import load_knowledge

    kb = load_knowledge()
    synonyms = tuple(" ".join(key) + " " for key in kb.index._synonym_readings)
    names = tuple(p.name + " " for p in kb.procedures[:400])
    return synonyms, names


def _repeat(phrase: str, times: int) -> str:
    return phrase * times


def repeated_phrases(max_chars: int = 4 * MAX_NLU_CHARS) -> st.SearchStrategy[str]:
    """A phrase (synonym, procedure name) typed again and again, up to past the NLU cut."""
    synonyms, names = _knowledge_words()
    phrase = st.sampled_from(REPEATED) | st.sampled_from(synonyms) | st.sampled_from(names)
    mixed = st.lists(st.sampled_from(REPEATED + synonyms), min_size=2, max_size=6).map("".join)
    return st.builds(_repeat, phrase | mixed, st.integers(1, 200)).map(lambda text: text[:max_chars])


def stories(max_chars: int = 4 * MAX_NLU_CHARS) -> st.SearchStrategy[str]:
    """Sentences and procedure names run together into a long message, with the breaks people type."""
    _, names = _knowledge_words()
    part = st.sampled_from(SENTENCES) | st.sampled_from(names)
    joiner = st.sampled_from((", ", ". ", " ", "\n", "? ", "; ", "... ", " - "))
    return st.lists(st.tuples(part, joiner), min_size=1, max_size=80).map(
        lambda parts: "".join(p + j for p, j in parts)[:max_chars]
    )


def _sprinkle(text: str, extras: list[tuple[int, str]]) -> str:
    for position, extra in sorted(extras, reverse=True):
        at = position % (len(text) + 1)
        text = text[:at] + extra + text[at:]
    return text


def oddities(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """`base` typed decomposed, or with invisible characters, emoji, other scripts, NUL or lone surrogates."""
    extra = st.sampled_from(INVISIBLE + EMOJI + OTHER_SCRIPTS + ("\x00", "\ud800", "\udfff", "\r\n", "\t"))
    return st.one_of(
        base.map(lambda text: unicodedata.normalize("NFD", text)),
        st.builds(_sprinkle, base, st.lists(st.tuples(st.integers(0, 10_000), extra), min_size=1, max_size=30)),
    )


def payload_like() -> st.SearchStrategy[str]:
    """Text that looks like a button's payload: real intents, odd entities, broken or deeply nested JSON."""
    value = st.one_of(
        st.sampled_from(("1.001193", "delete", "keep", "very_satisfied", "fee", "", "000.00.19.H12-261116-0012")),
        st.text(max_size=40),
        st.integers(),
        st.none(),
    )
    entities = st.dictionaries(
        st.sampled_from(("procedure", "choice", "rating", "aspect", "reason", "dossier_code", "x")), value, max_size=3
    ).map(lambda d: json.dumps(d, ensure_ascii=False))
    nested = st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)
    broken = st.sampled_from(("{", "{\"procedure\": ", "{]", "{}}", "{\"a\": [1, 2", "\ud800"))
    return st.builds(lambda intent, tail: f"/{intent}{tail}", st.sampled_from(INTENTS), st.one_of(
        st.just(""), entities, nested, broken,
    ))


def messages() -> st.SearchStrategy[str]:
    """Anything a user may send."""
    plain = st.sampled_from(SENTENCES) | st.text(max_size=60)
    return st.one_of(plain, repeated_phrases(), stories(), oddities(plain | repeated_phrases() | stories()), payload_like())
