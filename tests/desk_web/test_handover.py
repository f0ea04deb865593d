"""A person at the desk takes a web chat over, answers it, and hands it back (HTTP, real model and database)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import select

from bot.storage.models import DeskAudit, Ticket
from bot.web import create_app
from tests.desk_web.conftest import sign_in

_visitors = itertools.count(1)


@pytest.fixture
async def client(aiohttp_client, assistant):
    return await aiohttp_client(create_app(assistant))


async def chat(client, user: str, text: str) -> list[str]:
    """One web turn; the client's session cookie is the visitor (`user` only names them in the test)."""
    response = await client.post("/api/chat", json={"text": text})
    assert response.status == 200
    return [r["text"] for r in (await response.json())["replies"]]


async def updates(client, user: str, wait: float = 5.0) -> list[dict]:
    """What the web page would collect, polling as chat.js does until something comes (or `wait` ends)."""
    for _ in range(int(wait / 0.1)):
        body = await (await client.get("/api/chat/updates")).json()
        if body["replies"]:
            return body["replies"]
        await asyncio.sleep(0.1)
    return []


def open_ticket_id(assistant, reference: str) -> int:
    return int(reference.rsplit("-", 1)[1])


async def test_staff_take_answer_and_close_a_web_chat_and_the_assistant_keeps_quiet_meanwhile(client, assistant, make_account):
    visitor = f"w-handover-{next(_visitors)}"
    said = "\n".join(await chat(client, visitor, "tôi muốn gặp cán bộ"))
    reference = said.split("Số phiếu của bạn: ")[1].split()[0]
    ticket_id = open_ticket_id(assistant, reference)
    token = await sign_in(client, make_account("staff", "Nguyễn Thị Lan"))

    inbox = await (await client.get("/desk/inbox?view=new")).text()
    assert reference in inbox
    assert (await client.post(f"/desk/tickets/{ticket_id}/take", data={"csrf": token}, allow_redirects=False)).status == 303
    told = await updates(client, visitor)
    assert told and "Nguyễn Thị Lan" in told[0]["text"] and "gặp trợ lý" in told[0]["text"]

    assert await chat(client, visitor, "làm khai sinh cho con cần gì ạ") == []  # the assistant is quiet
    page = await (await client.get(f"/desk/tickets/{ticket_id}")).text()
    assert "làm khai sinh cho con cần gì ạ" in page
    waiting = await (await client.get("/desk/inbox?view=waiting")).text()
    assert reference in waiting

    answer = "Chào anh/chị, làm khai sinh cần tờ khai và giấy chứng sinh ạ."
    await client.post(f"/desk/tickets/{ticket_id}/answer", data={"csrf": token, "text": answer})
    assert [r["text"] for r in await updates(client, visitor)] == [answer]
    assert await updates(client, visitor, wait=0.3) == []  # each message is collected once

    await client.post(f"/desk/tickets/{ticket_id}/close", data={"csrf": token})
    closing = await updates(client, visitor)
    assert assistant.engine.responses.text("rating_ask") in [r["text"] for r in closing]
    assert any("Hài lòng" in b["title"] for r in closing for b in r["buttons"])
    assert await chat(client, visitor, "Hài lòng")  # the assistant is back: typing the button's title rates
    assert assistant.desk.rating_counts().get("satisfied", 0) >= 1

    with assistant.store.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket.status == "closed" and ticket.first_answer_at is not None
        assert ticket.first_answer_at >= ticket.created_at
        actions = session.execute(select(DeskAudit.action).where(DeskAudit.detail.contains(reference))).scalars().all()
    assert {"take_ticket", "answer", "close_ticket"} <= set(actions)


async def test_typing_gap_tro_ly_brings_the_assistant_back(client, assistant, make_account):
    visitor = f"w-handover-{next(_visitors)}"
    said = "\n".join(await chat(client, visitor, "cho tôi gặp cán bộ"))
    ticket_id = open_ticket_id(assistant, said.split("Số phiếu của bạn: ")[1].split()[0])
    token = await sign_in(client, make_account("staff"))
    await client.post(f"/desk/tickets/{ticket_id}/take", data={"csrf": token})
    assert await chat(client, visitor, "alo") == []
    back = await chat(client, visitor, "gặp trợ lý")
    assert back == [assistant.engine.responses.text("desk_released")]
    assert await chat(client, visitor, "làm hộ chiếu cần gì")  # answered again


async def test_a_colleague_cannot_answer_a_ticket_someone_else_took(client, assistant, make_account):
    visitor = f"w-handover-{next(_visitors)}"
    said = "\n".join(await chat(client, visitor, "tôi muốn gặp cán bộ"))
    ticket_id = open_ticket_id(assistant, said.split("Số phiếu của bạn: ")[1].split()[0])
    token = await sign_in(client, make_account("staff"))
    await client.post(f"/desk/tickets/{ticket_id}/take", data={"csrf": token})
    await updates(client, visitor)
    client.session.cookie_jar.clear()
    other = await sign_in(client, make_account("staff"))
    response = await client.post(f"/desk/tickets/{ticket_id}/answer", data={"csrf": other, "text": "xin chào"})
    assert "Bạn cần nhận phiếu trước" in await response.text()
    assert await updates(client, visitor, wait=0.5) == []


async def test_a_volunteer_sends_a_checklist_into_the_citizens_chat_by_ticket_number(client, assistant, make_account):
    visitor = f"w-handover-{next(_visitors)}"
    said = "\n".join(await chat(client, visitor, "tôi muốn gặp cán bộ"))
    reference = said.split("Số phiếu của bạn: ")[1].split()[0]
    token = await sign_in(client, make_account("volunteer"))
    response = await client.post("/desk/checklist/1.001193/send", data={"csrf": token, "ticket": reference})
    assert "Đã gửi danh sách giấy tờ" in await response.text()
    [sent] = await updates(client, visitor)
    assert "Thủ tục đăng ký khai sinh" in sent["text"]
    assert any("Giấy chứng sinh" in item["text"] for item in sent["checklist"])
    response = await client.post("/desk/checklist/1.001193/send", data={"csrf": token, "ticket": "YC-99999"})
    assert "Không tìm thấy số phiếu" in await response.text()
