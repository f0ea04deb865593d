"""What a person does on the web chat page, as selenium steps: type, press, read the answer."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ANSWER_SECONDS = 30


class ChatPage:
    def __init__(self, driver: WebDriver, url: str):
        self.driver = driver
        self.url = url

    def open(self, new_user: bool = True) -> list[WebElement]:
        """Loads the page (as a new visitor unless told otherwise) and answers the greeting's messages."""
        if new_user:
            self.driver.delete_all_cookies()
        self.driver.get(self.url)
        return self.wait_answer(0)

    def session(self) -> str | None:
        """The server-issued session cookie this browser holds (HttpOnly: the page's script cannot read it)."""
        cookie = self.driver.get_cookie("tthc_session")
        return cookie["value"] if cookie else None

    @property
    def input(self) -> WebElement:
        return self.driver.find_element(By.ID, "text")

    def messages(self, kind: str = "") -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f"#log > li.msg{'.' + kind if kind else ''}")

    def count(self) -> int:
        """Messages from the page's side: the assistant's replies and error notices."""
        return len(self.driver.find_elements(By.CSS_SELECTOR, "#log > li.bot, #log > li.error"))

    def idle(self) -> bool:
        return self.driver.find_element(By.ID, "log").get_attribute("aria-busy") != "true"

    def wait_answer(self, before: int) -> list[WebElement]:
        """Waits until the request has ended and something new is shown; answers the new messages."""
        WebDriverWait(self.driver, ANSWER_SECONDS).until(lambda d: self.idle() and self.count() > before)
        return self.driver.find_elements(By.CSS_SELECTOR, "#log > li.bot, #log > li.error")[before:]

    def say(self, text: str) -> list[WebElement]:
        before = self.count()
        self.input.send_keys(text, Keys.ENTER)
        return self.wait_answer(before)

    def buttons(self, messages: list[WebElement] | None = None) -> list[WebElement]:
        scope = messages if messages is not None else self.messages()
        return [b for m in scope for b in m.find_elements(By.CSS_SELECTOR, ".buttons button")]

    def button(self, title_part: str, messages: list[WebElement] | None = None) -> WebElement:
        """The latest offered button whose title contains `title_part`."""
        found = [b for b in self.buttons(messages) if title_part in b.text]
        assert found, f"no button {title_part!r}; offered {[b.text for b in self.buttons(messages)]}"
        return found[-1]

    def press(self, title_part: str, messages: list[WebElement] | None = None) -> list[WebElement]:
        before = self.count()
        self.button(title_part, messages).click()
        return self.wait_answer(before)

    @staticmethod
    def text(messages: list[WebElement]) -> str:
        return "\n".join(m.find_element(By.CSS_SELECTOR, ".text").text for m in messages)

    def focused(self) -> WebElement:
        return self.driver.switch_to.active_element
