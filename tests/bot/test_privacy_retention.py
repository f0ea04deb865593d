"""Retention and access: old conversations go (counts stay), one person's data is exported and
nobody else's."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.desk import StoredDesk
from bot.storage import ChannelEvent, Conversation, Feedback, Message, Store, Ticket, User
from bot.storage.crypto import Keyring, new_key
from bot.storage.retention import purge, purge_daily, retained_counts

NOW = datetime(2026, 12, 5, 8, 0)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'retention.db'}", Keyring.from_text(new_key()))


def _person(session, external_id: str, seen: datetime) -> User:
    user = User(channel="telegram", external_id=external_id, created_at=seen, last_seen_at=seen)
    session.add(user)
    session.flush()
    return user


def _conversation(session, user: User, when: datetime, words: str, intent: str = "ask_fee") -> Conversation:
    conversation = Conversation(user_id=user.id, started_at=when, updated_at=when,
                                flow_state={"slots": {"note": words}})
    session.add(conversation)
    session.flush()
    session.add(Message(conversation_id=conversation.id, direction="in", text=words, intent=intent, created_at=when))
    session.add(Message(conversation_id=conversation.id, direction="out", text="trả lời", created_at=when))
    return conversation


@pytest.fixture
def history(store: Store) -> Store:
    """Gone a year: a person seen once 400 days ago; a regular with an old and a recent conversation."""
    with store.session() as session, session.begin():
        gone = _person(session, "gone", OLD)
        _conversation(session, gone, OLD, "phí bao nhiêu")
        session.add(Feedback(user_id=gone.id, kind="rating", rating="satisfied", text="", created_at=OLD))
        session.add(Ticket(user_id=gone.id, reason="stuck", summary="gọi 0912345678", status="closed",
                           created_at=OLD, closed_at=OLD))
        regular = _person(session, "regular", RECENT)
        _conversation(session, regular, OLD, "hồ sơ cũ", intent="check_status")
        _conversation(session, regular, RECENT, "hồ sơ mới", intent="check_status")
        session.add(Feedback(user_id=regular.id, kind="complaint", text="phản ánh cũ 0987654321", created_at=OLD))
        session.add(Feedback(user_id=regular.id, kind="rating", rating="unsatisfied", text="chậm", created_at=RECENT))
        session.add(Ticket(user_id=regular.id, reason="request_human", summary="chưa ai gọi", status="open",
                           created_at=OLD))
        session.add(ChannelEvent(channel="zalo", event_id="old", payload={}, status="done", attempts=1,
                                 received_at=OLD))
    return store


def test_purge_deletes_what_is_past_retention_and_keeps_the_figures(history: Store):
    desk = StoredDesk(history)
    ratings_before = desk.rating_counts()

    report = purge(history, retention_days=365, now=NOW, batch=1)  # one conversation per transaction

    assert report.deleted == {"messages": 4, "conversations": 2, "feedback": 2, "tickets": 1, "users": 1,
                              "channel_events": 1}
    with history.session() as session:
        assert [u.external_id for u in session.query(User)] == ["regular"]
        assert [m.text for m in session.query(Message).order_by(Message.id)] == ["hồ sơ mới", "trả lời"]
        assert [f.text for f in session.query(Feedback)] == ["chậm"]
        assert [t.summary for t in session.query(Ticket)] == ["chưa ai gọi"]  # open: staff still owe an answer
    assert desk.rating_counts() == ratings_before == {"satisfied": 1, "unsatisfied": 1}
    month = f"{OLD:%Y-%m}"
    assert retained_counts(history, "conversations") == {"telegram": 2}
    assert retained_counts(history, "messages_in") == {"ask_fee": 1, "check_status": 1}
    assert retained_counts(history, "complaints") == {"complaint": 1}
    assert retained_counts(history, "tickets") == {"stuck": 1}
    with sqlite3.connect(history.engine.url.database) as raw:
        assert raw.execute("SELECT DISTINCT month FROM retained_counts").fetchall() == [(month,)]

    assert purge(history, retention_days=365, now=NOW).deleted["conversations"] == 0  # a second run: nothing
    assert retained_counts(history, "conversations") == {"telegram": 2}  # and nothing counted twice


async def test_the_daily_job_purges_at_start_and_again_later(history: Store):
    job = asyncio.create_task(purge_daily(history, 365, lambda: NOW, interval=timedelta(seconds=0.05)))
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if retained_counts(history, "conversations"):
                break
        assert retained_counts(history, "conversations") == {"telegram": 2}  # the first run, at once
        with history.session() as session, session.begin():
            _conversation(session, session.query(User).filter_by(external_id="regular").one(), OLD, "lại cũ")
        for _ in range(100):
            await asyncio.sleep(0.02)
            if retained_counts(history, "conversations") == {"telegram": 3}:
                break
        assert retained_counts(history, "conversations") == {"telegram": 3}  # the next run
    finally:
        job.cancel()


def test_purge_from_the_command_line(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    key = new_key()
    db = tmp_path / "cli.db"
    store = Store.open(f"sqlite:///{db}", Keyring.from_text(key))
    with store.session() as session, session.begin():
        _conversation(session, _person(session, "p", OLD), OLD, "cũ")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("DATA_KEY", key)
    monkeypatch.setenv("RETENTION_DAYS", "30")
    assert main(["privacy", "purge"]) == 0
    assert "conversations 1" in capsys.readouterr().out
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT count(*) FROM conversations").fetchone() == (0,)


def test_export_writes_one_persons_data_decrypted_and_nobody_elses(history: Store, tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    out = tmp_path / "regular.json"
    monkeypatch.setattr("bot.__main__._store", lambda settings: history)
    assert main(["privacy", "export", "--channel", "telegram", "--user", "regular", "--out", str(out)]) == 0

    assert out.stat().st_mode & 0o777 == 0o600
    body = json.loads(out.read_text(encoding="utf-8"))
    assert body["user"]["id"] == "regular"
    said = [m["text"] for c in body["conversations"] for m in c["messages"] if m["from"] == "user"]
    assert said == ["hồ sơ cũ", "hồ sơ mới"]
    assert body["conversations"][0]["flow_state"] == {"slots": {"note": "hồ sơ cũ"}}
    assert [f["text"] for f in body["feedback"]] == ["phản ánh cũ 0987654321", "chậm"]  # decrypted: it is theirs
    assert [t["summary"] for t in body["tickets"]] == ["chưa ai gọi"]
    text = out.read_text(encoding="utf-8")
    assert "phí bao nhiêu" not in text and "0912345678" not in text and "gone" not in text

    assert main(["privacy", "export", "--channel", "telegram", "--user", "nobody"]) == 1
    assert "nothing stored" in capsys.readouterr().err


def test_export_includes_a_table_added_later_that_refers_to_the_user(history: Store, monkeypatch):
    """A subscriptions table (another issue adds one) is exported without touching the exporter."""
    from types import SimpleNamespace

    from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

    from bot.storage import export
    from bot.storage.models import Base

    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    subscriptions = Table(
        "subscriptions", metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("dossier_code", String(40), nullable=False),
    )
    subscriptions.create(history.engine)
    with history.engine.begin() as connection:
        ids = dict(connection.execute(select(User.external_id, User.id)).all())
        connection.execute(subscriptions.insert(), [
            {"user_id": ids["regular"], "dossier_code": "000.00.19.H12-261020-0007"},
            {"user_id": ids["gone"], "dossier_code": "000.00.19.H12-261020-0099"},
        ])
    monkeypatch.setattr(export, "Base", SimpleNamespace(metadata=metadata))

    body = export.export_person(history, "telegram", "regular")

    assert body["subscriptions"] == [{"dossier_code": "000.00.19.H12-261020-0007"}]
