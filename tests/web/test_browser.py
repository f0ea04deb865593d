"""The web chat in a real browser (headless Chromium) against the real server, model and database."""

from __future__ import annotations

import time

import pytest
import yaml
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.web.chat_page import ChatPage

BIRTH_REGISTRATION = "1.001193"


@pytest.fixture
def page(browser, live_server) -> ChatPage:
    return ChatPage(browser, live_server.url)


def ask_about_birth_registration(page: ChatPage, text: str):
    """Asks; when the assistant offers similar procedures first, picks birth registration, as a person would."""
    answer = page.say(text)
    if "Giấy chứng sinh" not in page.text(answer):
        choices = [b for b in page.buttons(answer) if "khai sinh" in b.text.lower()]
        if choices:
            before = page.count()
            choices[0].click()
            answer = page.wait_answer(before)
    return answer


def keys(browser, *pressed: str) -> None:
    ActionChains(browser).send_keys(*pressed).perform()


def shift_tab(browser) -> None:
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()


def test_a_new_visitor_gets_the_menu_in_vietnamese_and_nothing_loads_from_elsewhere(page, browser, live_server, screenshot):
    greeting = page.open()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    assert "Xin chào" in page.text(greeting)
    menu = page.buttons(greeting)
    assert any("Tra cứu hồ sơ" in b.text for b in menu) and all(b.tag_name == "button" for b in menu)
    assert browser.find_element(By.CSS_SELECTOR, "label[for=text]").get_attribute("textContent").strip()
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    assert loaded and all(url.startswith(live_server.url) for url in loaded), loaded
    visitor = page.session()
    page.open(new_user=False)
    assert visitor and page.session() == visitor  # a returning visitor keeps their conversation
    assert "tthc_session" not in browser.execute_script("return document.cookie;")  # HttpOnly: no script reads it
    print(f"\nscreenshot: {screenshot('menu')}")


def test_a_question_without_diacritics_is_answered_from_the_catalog_and_its_fee_button_works(
    page, browser, assistant, screenshot
):
    record = assistant.knowledge.get(BIRTH_REGISTRATION)
    page.open()
    answer = ask_about_birth_registration(page, "lam giay khai sinh can giay to gi")
    text = page.text(answer)
    assert "Giấy chứng sinh" in text and BIRTH_REGISTRATION in text
    assert sum(line.startswith(("•", "1. ", "2. ")) for line in text.splitlines()) >= 2  # the list keeps its line breaks
    links = [a for m in answer for a in m.find_elements(By.CSS_SELECTOR, "a")]
    assert record.source_url in [a.get_attribute("href") for a in links]
    assert all(a.get_attribute("target") == "_blank" and "noopener" in a.get_attribute("rel") for a in links)
    assert any("Lệ phí" in b.text for b in page.buttons(answer))
    print(f"\nscreenshot: {screenshot('answer')}")

    fee = page.press("Lệ phí", answer)
    assert "Lệ phí" in page.messages("me")[-1].text  # the button's title is shown as what the person said
    fee_text = page.text(fee)
    assert "Lệ phí" in fee_text and all(channel.fee.label in fee_text for channel in record.channels)
    print(f"screenshot: {screenshot('fee')}")


def test_the_dossier_status_check_from_the_menu_button(page, project_root, screenshot):
    demo = yaml.safe_load((project_root / "bot" / "data" / "demo_dossiers.yml").read_text(encoding="utf-8"))
    dossier = next(d for d in demo if d["status"] == "result_ready")
    greeting = page.open()
    prompt = page.press("Tra cứu hồ sơ", greeting)
    assert "mã hồ sơ" in page.text(prompt).lower()
    asked = page.say(dossier["code"])
    assert "4 số cuối" in page.text(asked)  # the second factor before the details
    status = page.say(dossier["id_last4"])
    text = page.text(status)
    assert dossier["procedure_name"] in text and dossier["note"] in text
    print(f"\nscreenshot: {screenshot('status')}")
    again = page.press("Tra cứu mã khác", status)
    assert "mã hồ sơ" in page.text(again).lower()


def test_markup_typed_by_a_person_is_shown_as_text_and_never_runs(page, browser, screenshot):
    page.open()
    hostile = "<img src=x onerror=alert(1)>"
    page.say(hostile)
    assert page.messages("me")[-1].find_element(By.CSS_SELECTOR, ".text").text == hostile
    assert browser.find_elements(By.CSS_SELECTOR, "#log img, #log script") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    screenshot("markup")


def test_a_reply_is_drawn_as_text_with_web_links_only_and_a_checklist_to_tick(page, browser):
    """Knowledge can hold '<' and odd addresses: the page draws a reply's text, links and checklist safely."""
    page.open()
    reply = {
        "text": "<b>Dòng một</b>\nDòng hai",
        "buttons": [{"title": "<i>Về menu</i>", "payload": "/help"}],
        "links": [{"title": "Cổng DVC", "url": "https://dichvucong.gov.vn/"},
                  {"title": "script", "url": "javascript:alert(1)"},
                  {"title": "data", "url": "data:text/html,<script>alert(1)</script>"}],
        "checklist": [{"text": "Giấy chứng sinh", "done": False}, {"text": "<u>Căn cước</u>", "done": True}],
    }
    # The next answer comes from this reply instead of the server (once); everything after is real.
    browser.execute_script(
        "var reply = arguments[0], real = window.fetch;"
        "window.fetch = function () { window.fetch = real; return Promise.resolve(new Response("
        "JSON.stringify({replies: [reply]}), {status: 200, headers: {'Content-Type': 'application/json'}})); };",
        reply,
    )
    drawn = page.say("xin chào")[-1]
    assert drawn.find_element(By.CSS_SELECTOR, ".text").text == "<b>Dòng một</b>\nDòng hai"
    assert drawn.find_elements(By.CSS_SELECTOR, "b, i, u") == []
    assert [(a.text, a.get_attribute("href")) for a in drawn.find_elements(By.TAG_NAME, "a")] == [
        ("Cổng DVC", "https://dichvucong.gov.vn/")
    ]
    items = drawn.find_elements(By.CSS_SELECTOR, ".checklist label")
    assert [" ".join(i.text.split()) for i in items] == ["☐ Giấy chứng sinh", "☑ <u>Căn cước</u>"]
    items[0].click()
    assert items[0].text.startswith("☑")
    assert page.buttons([drawn])[0].text == "<i>Về menu</i>"
    menu = page.press("Về menu", [drawn])  # its payload goes to the real server
    assert any("Tra cứu hồ sơ" in b.text for b in page.buttons(menu))


def test_keyboard_only_tab_to_a_button_and_enter(page, browser, screenshot):
    greeting = page.open()
    browser.execute_script("document.activeElement.blur();")
    order = []
    for _ in range(len(page.buttons(greeting)) + 3):
        keys(browser, Keys.TAB)
        order.append(page.focused())
    ids = [e.get_attribute("id") or e.text for e in order]
    menu = [b.text for b in page.buttons(greeting)]
    assert ids == ["restart", *menu, "text", "send"], ids
    for _ in range(len(menu) + 1):  # back to the menu's first button
        shift_tab(browser)
    first = page.focused()
    assert first.text == menu[0]
    outline = browser.execute_script("var s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth];", first)
    assert outline[0] != "none" and outline[1] != "0px", outline  # focus is visible
    screenshot("focus")
    before = page.count()
    keys(browser, Keys.ENTER)
    examples = page.wait_answer(before)
    assert page.messages("me")[-1].text == menu[0] and page.buttons(examples)

    # Typing in the box and Enter sends; the newest answer's buttons are one Shift+Tab away.
    page.input.click()
    answer = ask_about_birth_registration(page, "lam giay khai sinh can giay to gi")
    page.input.click()
    shift_tab(browser)
    last = page.buttons(answer)[-1]
    assert page.focused() == last
    before = page.count()
    keys(browser, Keys.ENTER)
    page.wait_answer(before)
    assert page.messages("me")[-1].text == last.text


def test_a_double_press_sends_one_message(page, browser, live_server):
    greeting = page.open()
    sent = "return performance.getEntriesByType('resource').filter(function (e) { return /api\\/chat$/.test(e.name); }).length;"
    requests = browser.execute_script(sent)
    before, mine = page.count(), len(page.messages("me"))
    send_disabled = browser.execute_script(
        "arguments[0].click(); arguments[0].click(); return document.getElementById('send').disabled;",
        page.button("Hỏi về một thủ tục", greeting),
    )
    assert send_disabled and len(page.messages("me")) == mine + 1
    page.wait_answer(before)
    time.sleep(0.5)  # a second request, had there been one, would have ended by now
    assert browser.execute_script(sent) == requests + 1
    assert not browser.find_element(By.ID, "send").get_attribute("disabled")


def test_network_loss_gets_a_polite_message_and_a_retry(page, browser, screenshot):
    page.open()
    browser.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    try:
        notice = page.say("lam giay khai sinh can giay to gi")[-1]
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
    assert "error" in notice.get_attribute("class") and "kết nối" in notice.text
    screenshot("offline")
    before = page.count()
    notice.find_element(By.CSS_SELECTOR, "button.retry").click()
    answer = page.wait_answer(before - 1)  # the notice goes away and the answer takes its place
    assert "khai sinh" in page.text(answer).lower()
    assert page.messages("error") == []
    assert [m.text for m in page.messages("me")] == ["lam giay khai sinh can giay to gi"]  # said once


def test_a_server_error_gets_a_polite_message_and_a_retry(page, assistant, monkeypatch):
    page.open()
    real = assistant.handle
    failures = []

    async def fails_once(channel, user_id, text):
        if not failures:
            failures.append(text)
            raise RuntimeError("the database went away")
        return await real(channel, user_id, text)

    monkeypatch.setattr(assistant, "handle", fails_once)
    notice = page.say("xin chao")[-1]
    assert "trục trặc" in notice.text and notice.find_element(By.CSS_SELECTOR, "button.retry").text == "Thử lại"
    before = page.count()
    notice.find_element(By.CSS_SELECTOR, "button.retry").click()
    answer = page.wait_answer(before - 1)
    assert failures == ["xin chao"] and page.buttons(answer) and page.messages("error") == []


def test_start_again_gives_a_fresh_conversation(page, browser):
    page.open()
    page.say("lam giay khai sinh can giay to gi")
    visitor = page.session()
    before = page.count()
    browser.find_element(By.ID, "restart").click()
    page.wait_answer(0)
    assert page.messages("me") == [] and page.count() <= before
    assert page.session() not in (None, visitor)
    assert page.focused() == page.input
