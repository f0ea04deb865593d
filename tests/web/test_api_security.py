"""Who may speak as whom on /api/chat, and what bad input gets (issue 14, findings 3 and 6), over real HTTP."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from bot.settings import ApiKey
from bot.web import create_app
from bot.web.session import COOKIE

KIOSK_KEY = "kiosk-key-" + "k" * 24
DESK_KEY = "desk-key-" + "d" * 24
DOSSIER = "000.00.19.H12-230815-0001"


@pytest.fixture
def api_settings(settings):
    return replace(settings, api_keys=(ApiKey("kiosk", KIOSK_KEY), ApiKey("desk", DESK_KEY, slots=True)))


@pytest.fixture
def app(assistant, api_settings):
    return create_app(assistant, api_settings)


async def _browser(aiohttp_client, app):
    """A client with its own cookie jar, as a separate browser; it opens the page first."""
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200
    return client


async def _start_status_check(client, **extra):
    """Asks for a dossier's status and gives the code, so the conversation holds it in a slot."""
    await client.post("/api/chat", json={"text": "tra cứu hồ sơ", **extra})
    response = await client.post("/api/chat", json={"text": DOSSIER, **extra})
    return await response.json()


async def test_the_page_gives_an_httponly_strict_session_cookie(aiohttp_client, app):
    client = await aiohttp_client(app)
    response = await client.get("/")
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    assert len(cookie.value) > 40  # an unguessable id and its signature


async def test_secure_cookies_behind_https(aiohttp_client, assistant, api_settings):
    client = await aiohttp_client(create_app(assistant, replace(api_settings, web_https=True)))
    assert (await client.get("/")).cookies[COOKIE]["secure"]


async def test_the_web_page_cannot_name_its_user(aiohttp_client, app):
    client = await _browser(aiohttp_client, app)
    response = await client.post("/api/chat", json={"user": "test-user-1", "text": "xin chào"})
    body = await response.json()
    assert response.status == 400 and body["field"] == "user"


async def test_one_browser_never_sees_or_resumes_another_browsers_conversation(aiohttp_client, app):
    alice = await _browser(aiohttp_client, app)
    body = await _start_status_check(alice)
    assert "slots" not in body  # the web page never gets slots
    mallory = await _browser(aiohttp_client, app)
    # A forged cookie (Alice's id with a made-up signature) is not Alice: it gets a new session.
    alice_id = alice.session.cookie_jar.filter_cookies(alice.make_url("/"))[COOKIE].value.split(".")[0]
    mallory.session.cookie_jar.update_cookies({COOKIE: f"{alice_id}.forged"}, response_url=mallory.make_url("/"))
    response = await mallory.post("/api/chat", json={"text": "xoá dữ liệu của tôi"})
    assert response.status == 200
    new_id = response.cookies[COOKIE].value.split(".")[0]
    assert new_id != alice_id
    assert DOSSIER not in json.dumps(await response.json(), ensure_ascii=False)


async def test_start_again_gives_a_new_session(aiohttp_client, app):
    client = await _browser(aiohttp_client, app)
    before = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    response = await client.post("/api/session")
    assert response.status == 200 and response.cookies[COOKIE].value != before


async def test_a_front_end_needs_its_key_and_its_users_are_its_own(aiohttp_client, app):
    client = await aiohttp_client(app)
    wrong = await client.post("/api/chat", json={"user": "citizen-7", "text": "xin chào"},
                              headers={"Authorization": "Bearer " + "x" * 34})
    assert wrong.status == 401 and (await wrong.json())["field"] == "Authorization"
    desk = {"Authorization": f"Bearer {DESK_KEY}"}
    kiosk = {"Authorization": f"Bearer {KIOSK_KEY}"}
    await client.post("/api/chat", json={"user": "citizen-7", "text": "tra cứu hồ sơ"}, headers=desk)
    body = await (await client.post("/api/chat", json={"user": "citizen-7", "text": DOSSIER, "slots": True},
                                    headers=desk)).json()
    assert DOSSIER.replace(" ", "") in json.dumps(body["slots"], ensure_ascii=False)  # trusted, and asked
    # The kiosk's "citizen-7" is another person: nothing of the desk's citizen-7 shows.
    body = await (await client.post("/api/chat", json={"user": "citizen-7", "text": "xin chào"}, headers=kiosk)).json()
    assert "slots" not in body
    refused = await client.post("/api/chat", json={"user": "citizen-7", "text": "x", "slots": True}, headers=kiosk)
    assert refused.status == 400 and (await refused.json())["field"] == "slots"
    # Without asking, even the trusted front end gets no slots.
    body = await (await client.post("/api/chat", json={"user": "citizen-7", "text": "xin chào"}, headers=desk)).json()
    assert "slots" not in body


@pytest.mark.parametrize("user_id", ["", "a" * 65, "forged\nINFO turn user=admin", "nul\x00byte", "sp ace"])
async def test_bad_user_ids_from_a_front_end_are_refused_naming_the_field(aiohttp_client, app, user_id):
    client = await aiohttp_client(app)
    response = await client.post("/api/chat", json={"user": user_id, "text": "xin chào"},
                                 headers={"Authorization": f"Bearer {KIOSK_KEY}"})
    assert response.status == 400 and (await response.json())["field"] == "user"


async def test_deeply_nested_json_gets_a_vietnamese_400_naming_the_body(aiohttp_client, app):
    client = await _browser(aiohttp_client, app)
    response = await client.post("/api/chat", data="[" * 5000 + "]" * 5000, headers={"Content-Type": "application/json"})
    body = await response.json()
    assert response.status == 400 and body["field"] == "body" and "lồng nhau" in body["error"]


async def test_a_lone_surrogate_is_answered_and_stored(aiohttp_client, app, assistant):
    client = await _browser(aiohttp_client, app)
    raw = '{"text": "làm khai sinh \\ud800 cần gì"}'
    response = await client.post("/api/chat", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 200 and (await response.json())["replies"]


async def test_a_body_over_64_kib_gets_a_vietnamese_400_naming_the_body(aiohttp_client, app):
    client = await _browser(aiohttp_client, app)
    response = await client.post("/api/chat", json={"text": "a" * (70 * 1024)})
    body = await response.json()
    assert response.status == 400 and body["field"] == "body" and "quá lớn" in body["error"]


@pytest.mark.parametrize("method, path", [("GET", "/"), ("POST", "/api/chat"), ("GET", "/nowhere"),
                                          ("GET", "/static/chat.js"), ("GET", "/api/chat")])
async def test_every_answer_errors_included_has_the_security_headers(aiohttp_client, app, method, path):
    client = await aiohttp_client(app)
    response = await client.request(method, path, data=b"{" if method == "POST" else None)
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "aiohttp" not in headers["Server"] and "Python" not in headers["Server"]


async def test_a_user_id_cannot_forge_a_log_line(aiohttp_client, app, caplog):
    client = await aiohttp_client(app)
    caplog.set_level(logging.INFO)
    await client.post("/api/chat", json={"user": "x\nERROR forged", "text": "hi"},
                      headers={"Authorization": f"Bearer {KIOSK_KEY}"})
    assert not any(line.startswith("ERROR forged") for line in caplog.text.splitlines())


def test_the_log_format_keeps_one_record_on_one_line():
    from bot.privacy import OneLineFormatter

    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "turn user=%s", ("x\nERROR forged\x00",), None)
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and "\x00" not in line and line.startswith("INFO turn user=x\\nERROR forged")
