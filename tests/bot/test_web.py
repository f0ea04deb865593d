"""The web chat's JSON endpoint and page, over real HTTP with the real model."""

import pytest

from bot.web import create_app


@pytest.fixture
async def client(aiohttp_client, assistant):
    return await aiohttp_client(create_app(assistant))


async def test_the_page_is_served_with_the_chat_script_and_no_external_resources(client):
    response = await client.get("/")
    html = await response.text()
    assert response.status == 200 and 'lang="vi"' in html
    assert "/static/chat.js" in html and "http" not in html.split("<body>")[1]
    assert (await client.get("/static/chat.js")).status == 200


async def test_greeting_shows_the_main_menu_as_buttons(client):
    body = await (await client.post("/api/chat", json={"text": "xin chào"})).json()
    assert body["intent"] == "greet"
    titles = [b["title"] for r in body["replies"] for b in r["buttons"]]
    assert any("Tra cứu hồ sơ" in t for t in titles) and len(titles) >= 3


async def ask_until_answered(client, text, code):
    """Asks; when the assistant offers similar procedures, taps the one for `code`, as a user would."""
    body = await (await client.post("/api/chat", json={"text": text})).json()
    offered = [b["payload"] for r in body["replies"] for b in r["buttons"] if f'"{code}"' in b["payload"]]
    if "Giấy chứng sinh" not in "\n".join(r["text"] for r in body["replies"]) and offered:
        body = await (await client.post("/api/chat", json={"text": offered[0]})).json()
    return body


async def test_the_birth_registration_question_is_answered_from_the_catalog_with_its_source(client):
    body = await ask_until_answered(client, "làm giấy khai sinh cần giấy tờ gì", "1.001193")
    text = "\n".join(r["text"] for r in body["replies"])
    assert body["intent"] == "ask_documents"
    assert "Giấy chứng sinh" in text  # from record 1.001193
    assert "1.001193" in text
    links = [lk["url"] for r in body["replies"] for lk in r["links"]]
    assert any(url.startswith("https://dichvucong.gov.vn/") for url in links)


async def test_a_button_payload_is_understood_without_the_model(client):
    body = await (await client.post("/api/chat", json={"text": '/ask_fee{"procedure":"1.001193"}'})).json()
    text = "\n".join(r["text"] for r in body["replies"])
    assert body["intent"] == "ask_fee" and "Miễn phí" in text


async def test_without_diacritics_the_same_answer_comes(client):
    body = await ask_until_answered(client, "lam giay khai sinh can giay to gi", "1.001193")
    assert "Giấy chứng sinh" in "\n".join(r["text"] for r in body["replies"])


@pytest.mark.parametrize(
    "payload, field",
    [({"user": "someone-else", "text": "hi"}, "user"), ({}, "text"), ({"text": 5}, "text"),
     ({"text": "x" * 5000}, "text"), (["x"], "body")],
)
async def test_a_bad_payload_gets_400_naming_the_field(client, payload, field):
    response = await client.post("/api/chat", json=payload)
    body = await response.json()
    assert response.status == 400 and body["field"] == field and body["error"]


async def test_a_body_that_is_not_json_gets_400(client):
    response = await client.post("/api/chat", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["field"] == "body"


async def test_an_empty_message_gets_a_polite_reply(client):
    body = await (await client.post("/api/chat", json={"text": "   "})).json()
    assert "chưa gõ" in body["replies"][0]["text"]


async def test_a_failing_turn_answers_500_with_a_polite_vietnamese_error_and_logs_it(aiohttp_client, assistant, caplog):
    class Broken:
        engine = assistant.engine

        async def handle(self, channel, user, text):
            raise RuntimeError("database went away")

        store = assistant.store

    client = await aiohttp_client(create_app(Broken()))  # type: ignore[arg-type]
    response = await client.post("/api/chat", json={"text": "0912345678"})
    body = await response.json()
    assert response.status == 500 and body["error"] == assistant.engine.responses.text("internal_error")
    assert "database went away" in caplog.text
