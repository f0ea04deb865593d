"""Answers on a phone-sized web chat (412x915, headless Chromium): each fits the screen, its case first.

The screenshots are kept under var/artifacts/screenshots/ (test-answer-screens-*.png) for people to look at.
"""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By

from tests.web.chat_page import ChatPage

SCREEN = 700


@pytest.fixture
def page(browser, live_server) -> ChatPage:
    return ChatPage(browser, live_server.url)


def ask(page: ChatPage, text: str, want: str):
    """Asks as a new visitor; when offered look-alike procedures, picks the one whose title has `want`."""
    page.open()
    answer = page.say(text)
    choices = [b for b in page.buttons(answer) if want.lower() in b.text.lower()]
    if choices and "Nguồn:" not in page.text(answer):
        before = page.count()
        choices[0].click()
        answer = page.wait_answer(before)
    return answer


def fits_the_screen(page: ChatPage, browser, answer) -> str:
    text = page.text(answer)
    assert len(text) <= SCREEN, (len(text), text)
    # The whole answer is seen at once in the conversation area, between the title bar and the input.
    bubble = answer[-1].find_element(By.CSS_SELECTOR, ".text")
    assert bubble.size["height"] <= browser.find_element(By.ID, "log").size["height"], bubble.size
    return text


CASES = [
    ("khai-sinh-documents", "làm giấy khai sinh cần giấy tờ gì", "khai sinh", None, ["Tờ khai đăng ký khai sinh"]),
    ("thuong-tru-documents", "đăng ký thường trú cần giấy tờ gì", "thường trú", None, ["CT01"]),
    ("can-cuoc-reissue-fee", "mất căn cước làm lại hết bao nhiêu tiền", "Cấp lại thẻ căn cước", None,
         ["35.000 đ", "31/12/2026", "70.000 đ"]),
    ("ho-chieu-steps", "làm hộ chiếu cần giấy tờ gì", "hộ chiếu", "Các bước", ["🧭 Các bước", "1. ", "2. "]),
    ("ct01-form", "cho tôi xin mẫu CT01", "", None, ["CT01", "Tải mẫu"]),
    ("two-aspects", "đăng ký kết hôn nộp ở đâu, bao nhiêu tiền", "kết hôn", None, ["Nơi nộp hồ sơ", "Lệ phí"]),
]


@pytest.mark.parametrize(("name", "question", "want", "press", "expect"), CASES, ids=[c[0] for c in CASES])
def test_an_answer_fits_a_phone_screen(page, browser, screenshot, name, question, want, press, expect):
    answer = ask(page, question, want)
    if press:
        answer = page.press(press, answer)
    text = fits_the_screen(page, browser, answer)
    for words in expect:
        assert words in text, (words, text)
    links = [a.get_attribute("href") for m in answer for a in m.find_elements(By.CSS_SELECTOR, "a")]
    assert any(h.startswith("https://dichvucong.gov.vn/") for h in links)
    print(f"\nscreenshot: {screenshot(name)}\n{text}")


def test_special_cases_are_one_tap_away_and_paged_never_cut(page, browser, screenshot):
    answer = ask(page, "đăng ký thường trú cần giấy tờ gì", "thường trú")
    cases = page.press("Trường hợp riêng", answer)
    text = fits_the_screen(page, browser, cases)
    assert "▸ " in text
    if "còn tiếp" in text:
        following = page.press("Tiếp", cases)
        fits_the_screen(page, browser, following)
    print(f"\nscreenshot: {screenshot('cases')}")


def ask_exactly(page: ChatPage, text: str, title: str):
    """Asks as a new visitor; when offered look-alike procedures, picks the one titled exactly `title`."""
    page.open()
    answer = page.say(text)
    if "Nguồn:" not in page.text(answer):
        before = page.count()
        next(b for b in page.buttons(answer) if b.text.strip() == title).click()
        answer = page.wait_answer(before)
    return answer


YES_NO = [
    ("authorise-yes-no", "ủy quyền cho người khác nộp hồ sơ cấp hộ chiếu được không", "Cấp hộ chiếu phổ thông (trong nước)"),
    ("representative-yes-no", "làm căn cước cho con dưới 14 tuổi thì người đại diện hợp pháp có phải đưa con đến không",
     "Cấp thẻ căn cước cho trẻ dưới 14 tuổi"),
]


@pytest.mark.parametrize(("name", "question", "title"), YES_NO, ids=[c[0] for c in YES_NO])
def test_a_yes_no_answer_leads_with_the_records_line_that_decides_it(page, browser, screenshot, name, question, title):
    from flows.actions.answers.asked import who_sentences
    from knowledge import load_knowledge

    answer = ask_exactly(page, question, title)
    text = fits_the_screen(page, browser, answer)
    code = re.search(r"thủ tục (\d\.\d{6})", text).group(1)
    procedure = load_knowledge().get(code)
    record = " ".join(" ".join(who_sentences(procedure) + list(procedure.conditions)).split())
    head = next(i for i, line in enumerate(text.splitlines()) if line.startswith(("👤", "✅")))
    first = text.splitlines()[head + 1]
    assert not first.startswith("•") and ": " in first, first
    assert first.split(": ", 1)[1].strip("«»… ") in record, (first, code)
    print(f"\nscreenshot: {screenshot(name)}\n{text}")


def test_steps_are_short_numbered_steps_on_one_screen(page, browser, screenshot):
    answer = ask(page, "các bước đăng ký thường trú", "thường trú")
    text = fits_the_screen(page, browser, answer)
    steps = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert len(steps) >= 3 and all(len(s) <= 110 for s in steps), steps
    assert [int(s.split(".")[0]) for s in steps] == list(range(1, len(steps) + 1))
    print(f"\nscreenshot: {screenshot('thuong-tru-steps')}\n{text}")
