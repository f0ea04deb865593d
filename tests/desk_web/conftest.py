"""The desk's fixtures: accounts of each role on the test database, and a signed-in HTTP client."""

from __future__ import annotations

import itertools
import re

import pytest

from bot.users import Accounts

PASSWORD = "mat-khau-du-dai-1"
_names = itertools.count(1)


@pytest.fixture(scope="session")
def accounts(assistant) -> Accounts:
    return Accounts(assistant.store)


@pytest.fixture
def make_account(accounts):
    def make(role: str, name: str = "") -> str:
        username = f"{role}{next(_names)}"
        accounts.add(username, role, PASSWORD, name or f"Cán bộ {username}")
        return username

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in(client, username: str, password: str = PASSWORD) -> str:
    """Signs in through the form, as a browser would; answers the CSRF token of the signed-in session."""
    form = await client.get("/desk/sign-in")
    token = csrf_of(await form.text())
    response = await client.post("/desk/sign-in", data={"username": username, "password": password, "csrf": token},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get("/desk/sign-in")  # the session's new token (signing in starts a new session)
    return csrf_of(await page.text())


# The browser fixtures of the web chat's tests (headless Chromium, screenshots under var/artifacts/screenshots).
from tests.web.conftest import browser, screenshot  # noqa: E402,F401
