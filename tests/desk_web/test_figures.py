"""The province's figures on a database with known contents: the page, the charts and every CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from bot.assistant import Assistant
from bot.desk import StoredDesk
from bot.desk_figures import Period, compute
from bot.storage import Store
from bot.storage.models import Conversation, Message, Ticket, User, utcnow
from bot.web import create_app
from tests.desk_web.conftest import PASSWORD, sign_in

BIRTH = "1.001193"


@pytest.fixture(scope="module")
def quiet_assistant(tmp_path_factory, assistant) -> Assistant:
    """The real engine and knowledge on an empty database of its own (figures need no NLU)."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('figures') / 'figures.db'}")
    return Assistant(nlu=assistant.nlu, engine=assistant.engine, store=store, knowledge=assistant.knowledge,
                     desk=StoredDesk(store))


def seed(store: Store, now: datetime) -> None:
    """Five ratings (4 satisfied), two conversations with 3 questions (1 not understood), one answered ticket."""
    desk = StoredDesk(store, clock=lambda: now)
    for i, rating in enumerate(("very_satisfied", "very_satisfied", "very_satisfied", "satisfied", "unsatisfied")):
        desk.save_feedback(f"web:rater-{i}", "rating", "", rating=rating)
    with store.session() as session, session.begin():
        for n, texts in enumerate(((("khai sinh cần gì", "ask_documents", 0.93, BIRTH),
                                    ("xyz abc 0912345678", "out_of_scope", 0.21, None)),
                                   (("lệ phí khai sinh", "ask_fee", 0.88, BIRTH),
                                    ("/greet", "greet", 1.0, None)))):
            user = User(channel="web", external_id=f"asker-{n}", created_at=now, last_seen_at=now)
            session.add(user)
            session.flush()
            conversation = Conversation(user_id=user.id, started_at=now, updated_at=now, flow_state={})
            session.add(conversation)
            session.flush()
            for text, intent, confidence, code in texts:
                session.add(Message(conversation_id=conversation.id, direction="in", text=text, intent=intent,
                                    confidence=confidence, created_at=now, procedure_code=code))
        session.add(Ticket(user_id=user.id, reason="request_human", summary="", status="closed", created_at=now,
                           first_answer_at=now + timedelta(minutes=12)))


async def test_the_dashboard_counts_what_was_stored_and_exports_each_table(aiohttp_client, quiet_assistant, accounts):
    now = utcnow()
    seed(quiet_assistant.store, now)
    f = compute(quiet_assistant.store.engine, Period((now + timedelta(hours=7)).date(), (now + timedelta(hours=7)).date()), 0.5)
    assert f.satisfaction == pytest.approx(0.8) and sum(f.ratings.values()) == 5
    assert f.questions == (2, 1) and f.top_procedures == [(BIRTH, 2)]
    assert f.unanswered == [("xyz abc [sđt 09***78]", 1)]
    assert f.handover["tickets"] == 1 and f.handover["average_wait_minutes"] == pytest.approx(12.0)

    client = await aiohttp_client(create_app(quiet_assistant))
    from bot.users import Accounts

    Accounts(quiet_assistant.store).add("thongke", "staff", PASSWORD, "Thống kê")
    await sign_in(client, "thongke")
    html = await (await client.get("/desk/figures")).text()
    assert 'id="satisfaction">80.0%' in html and "<svg" in html and "Thủ tục đăng ký khai sinh" in html
    assert "0912345678" not in html

    response = await client.get("/desk/figures.csv", params={"table": "summary"})
    raw = await response.read()
    assert response.headers["Content-Type"].startswith("text/csv") and raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Chỉ số", "Giá trị"]
    assert ["Tỉ lệ hài lòng (Rất hài lòng + Hài lòng), %", "80.0"] in rows
    for name in ("series", "procedures", "unanswered"):
        body = (await (await client.get("/desk/figures.csv", params={"table": name})).read()).decode("utf-8-sig")
        assert len(list(csv.reader(io.StringIO(body)))) >= 2, name
    assert (await client.get("/desk/figures.csv", params={"table": "users"})).status == 404


async def test_logging_a_submission_moves_the_online_share(aiohttp_client, quiet_assistant):
    from bot.users import Accounts

    Accounts(quiet_assistant.store).add("tnv-share", "volunteer", PASSWORD, "Tình nguyện viên")
    client = await aiohttp_client(create_app(quiet_assistant))
    token = await sign_in(client, "tnv-share")

    async def log(method: str) -> str:
        response = await client.post("/desk/submissions", data={"csrf": token, "procedure": BIRTH, "method": method,
                                                                 "dossier_code": ""})
        return await response.text()

    await log("in_person")
    assert 'id="my-online-share">0%' in await log("in_person")
    assert 'id="my-online-share">33%' in await log("online")
    assert 'id="my-online-share">50%' in await log("online")
    bad = await client.post("/desk/submissions", data={"csrf": token, "procedure": "khong-co", "method": "online"})
    assert "Chưa ghi được" in await bad.text()
