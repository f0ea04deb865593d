"""The desk in a real browser (headless Chromium) with the real server, model and database, and the
fake Telegram and Zalo servers: a person takes over three conversations and answers each on its channel."""

from __future__ import annotations

import base64
import io
import itertools
import re

import pytest
import zxingcpp
from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.desk_web.conftest import PASSWORD
from tests.desk_web.rig import DeskRig, wait_for
from tests.web.chat_page import ChatPage

BIRTH = "1.001193"
_chats = itertools.count(640_000_001)
_zalo_users = itertools.count(1)


@pytest.fixture(scope="module")
def rig(assistant, settings):
    with DeskRig(assistant, settings) as running:
        yield running


def desk_sign_in(browser, rig: DeskRig, username: str) -> None:
    browser.set_window_size(1366, 768)
    browser.delete_all_cookies()
    browser.get(rig.url + "desk/sign-in")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
    wait_for(lambda: "/desk/sign-in" not in browser.current_url, what="signing in")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def left_behind(old_page):
    """Whether the browser has left the page `old_page` belongs to. Like selenium's `staleness_of`, but a node
    asked about while its page is being replaced may answer Chromium's "Node with given id does not belong to
    the document" instead of "stale element" (SeleniumHQ/selenium#15401): that, too, means the page is gone."""

    def gone(_) -> bool:
        try:
            old_page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in (e.msg or ""):
                return True
            raise
        return False

    return gone


def follow(browser, act) -> None:
    """Does `act` (a click, an Enter) and waits until the next page has loaded."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    act()
    WebDriverWait(browser, 30).until(left_behind(old_page))
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def press(browser, label: str) -> None:
    """Presses the form button and waits for the page the form leads to (a click returns before it loads)."""
    [button] = [b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == label]
    follow(browser, button.click)


def ticket_reference(text: str) -> str:
    return re.search(r"YC-\d{5}", text).group(0)


def test_staff_answer_people_on_telegram_zalo_and_the_web_chat_and_hand_them_back(
    browser, rig, make_account, screenshot, assistant
):
    # Three people ask for a person, each on their own channel.
    chat_id, zalo_user = next(_chats), f"zalo-desk-{next(_zalo_users)}"
    rig.telegram_says(chat_id, "tôi muốn gặp cán bộ")
    telegram_ticket = ticket_reference(wait_for(lambda: "\n".join(rig.telegram_texts(chat_id)), what="Telegram's ticket"))
    rig.zalo_says(zalo_user, "cho tôi gặp cán bộ")
    zalo_ticket = ticket_reference(wait_for(lambda: "\n".join(rig.zalo_texts(zalo_user)), what="Zalo's ticket"))
    citizen = ChatPage(browser, rig.url)
    browser.set_window_size(412, 915)
    citizen.open()
    web_ticket = ticket_reference(citizen.text(citizen.say("tôi muốn gặp cán bộ")))
    citizen_tab = browser.current_window_handle

    # Staff sign in in another tab and see the three tickets waiting.
    browser.switch_to.new_window("tab")
    desk_tab = browser.current_window_handle
    desk_sign_in(browser, rig, make_account("staff", "Trần Văn Minh"))
    assert browser.current_url.endswith("/desk/inbox")
    inbox = browser.find_element(By.TAG_NAME, "main").text
    assert {telegram_ticket, zalo_ticket, web_ticket} <= set(re.findall(r"YC-\d{5}", inbox))
    screenshot("inbox")

    answers = {}
    for reference in (telegram_ticket, zalo_ticket, web_ticket):
        browser.get(rig.url + "desk/inbox")
        follow(browser, browser.find_element(By.LINK_TEXT, reference).click)
        press(browser, "Nhận cuộc trò chuyện")
        answers[reference] = f"Chào bạn, tôi là Minh ở bộ phận một cửa, tôi xem phiếu {reference} ngay."
        box = browser.find_element(By.ID, "text")
        assert browser.switch_to.active_element == box  # the answer box has the focus: type at once
        box.send_keys(answers[reference])
        press(browser, "Gửi")
        assert "Đã gửi tin nhắn" in browser.find_element(By.CSS_SELECTOR, ".note").text
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot("ticket")

    # Each answer reaches the person on their own channel.
    wait_for(lambda: answers[telegram_ticket] in rig.telegram_texts(chat_id), what="the answer on Telegram")
    wait_for(lambda: answers[zalo_ticket] in rig.zalo_texts(zalo_user), what="the answer on Zalo")
    browser.switch_to.window(citizen_tab)
    wait_for(lambda: answers[web_ticket] in citizen.text(citizen.messages("bot")), what="the answer in the web chat")
    assert "Trần Văn Minh" in citizen.text(citizen.messages("bot"))

    # While a person has the conversation, the assistant does not speak over them.
    telegram_before, zalo_before = len(rig.telegram_texts(chat_id)), len(rig.zalo_texts(zalo_user))
    rig.telegram_says(chat_id, "làm khai sinh cần gì ạ")
    rig.zalo_says(zalo_user, "lệ phí bao nhiêu ạ")
    web_before = citizen.count()
    citizen.input.send_keys("em cảm ơn, còn hộ chiếu thì sao ạ", Keys.ENTER)
    wait_for(citizen.idle, what="the web chat to finish sending")
    browser.switch_to.window(desk_tab)
    browser.get(rig.url + "desk/inbox?view=waiting")
    waiting = browser.find_element(By.TAG_NAME, "main").text
    assert {telegram_ticket, zalo_ticket, web_ticket} <= set(re.findall(r"YC-\d{5}", waiting))
    follow(browser, browser.find_element(By.LINK_TEXT, web_ticket).click)
    assert "còn hộ chiếu thì sao ạ" in browser.find_element(By.CSS_SELECTOR, "ol.conversation").text
    assert len(rig.telegram_texts(chat_id)) == telegram_before and len(rig.zalo_texts(zalo_user)) == zalo_before
    browser.switch_to.window(citizen_tab)
    assert citizen.count() == web_before
    browser.switch_to.window(desk_tab)

    # Closing hands each conversation back; the assistant asks for a rating.
    rating_question = assistant.engine.responses.text("rating_ask")
    for reference in (telegram_ticket, zalo_ticket, web_ticket):
        browser.get(rig.url + "desk/inbox?view=mine")
        follow(browser, browser.find_element(By.LINK_TEXT, reference).click)
        press(browser, "Đóng phiếu, trả lại cho trợ lý")
    wait_for(lambda: rating_question in rig.telegram_texts(chat_id), what="the rating question on Telegram")
    wait_for(lambda: any(rating_question in t for t in rig.zalo_texts(zalo_user)), what="the rating question on Zalo")
    browser.switch_to.window(citizen_tab)
    wait_for(lambda: rating_question in citizen.text(citizen.messages("bot")), what="the rating question on the web")
    answer = citizen.press("Rất hài lòng")
    assert citizen.text(answer)  # the assistant is back and takes the rating
    browser.switch_to.window(desk_tab)
    browser.close()
    browser.switch_to.window(citizen_tab)


def test_a_volunteer_prints_a_checklist_whose_qr_code_opens_the_chat_on_that_procedure(browser, rig, make_account, screenshot):
    desk_sign_in(browser, rig, make_account("volunteer", "Lê Thu Hà"))
    assert browser.current_url.endswith("/desk/lookup")
    search = browser.find_element(By.ID, "q")
    search.send_keys("đăng ký khai sinh")
    follow(browser, lambda: search.send_keys(Keys.ENTER))
    hits = browser.find_element(By.CSS_SELECTOR, "table.list").text
    assert BIRTH in hits
    assert "Giấy chứng sinh" in browser.find_element(By.CSS_SELECTOR, "ol.conversation").text  # the chat's own answer
    follow(browser, browser.find_element(By.CSS_SELECTOR, f"a[href='/desk/checklist/{BIRTH}']").click)

    sheet = browser.find_element(By.CSS_SELECTOR, "article.sheet").text
    assert "Giấy tờ cần chuẩn bị" in sheet and "Lệ phí" in sheet and "Nộp ở đâu" in sheet
    figure = browser.find_element(By.CSS_SELECTOR, "figure.qr")
    url = figure.get_attribute("data-url")
    assert url == f"{rig.url}?q={BIRTH}"
    # What a phone's camera reads: the code as the browser draws it, decoded by a real QR reader.
    drawn = Image.open(io.BytesIO(figure.find_element(By.CSS_SELECTOR, "svg").screenshot_as_png))
    assert [code.text for code in zxingcpp.read_barcodes(drawn)] == [url]

    browser.set_window_size(794, 1123)  # an A4 page at 96 dpi, for the screenshot
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "header.top").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "figure.qr svg").is_displayed()
        screenshot("printed-checklist")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})["data"])
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, "the checklist prints on one A4 page"

    browser.get(url)  # what the phone opens after scanning
    page = ChatPage(browser, url)
    answer = page.wait_answer(0)
    assert "Giấy chứng sinh" in page.text(answer) or "khai sinh" in page.text(answer).lower()


def test_staff_see_the_figures_and_the_online_share_moves_when_a_submission_is_logged(browser, rig, make_account, screenshot):
    desk_sign_in(browser, rig, make_account("staff"))
    browser.get(rig.url + "desk/figures")
    before = browser.find_element(By.ID, "online-share").text
    browser.get(rig.url + f"desk/submissions?code={BIRTH}")
    browser.find_element(By.CSS_SELECTOR, "input[name=method][value=online]").click()
    press(browser, "Ghi nhận")
    assert "Đã ghi nhận" in browser.find_element(By.CSS_SELECTOR, ".note").text
    assert browser.find_element(By.ID, "my-online-share").text == "100%"
    browser.get(rig.url + "desk/figures")
    after = browser.find_element(By.ID, "online-share").text
    assert after != before and after.endswith("%")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    screenshot("dashboard")
    browser.set_window_size(412, 915)  # a phone: no sideways scrolling on the figures or the inbox
    for page in ("desk/figures", "desk/inbox?view=closed"):
        browser.get(rig.url + page)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 412, page
    screenshot("inbox-phone")
