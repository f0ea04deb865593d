from datetime import datetime, timedelta

from sqlalchemy import inspect, select

from bot.storage import Message, Store


def test_migrations_create_the_schema_and_running_them_again_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store.open(url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "conversations", "messages", "alembic_version"} <= tables
    Store.open(url)  # second start: already at head


def test_flow_state_and_messages_survive_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    now = datetime(2026, 11, 22, 9, 0)
    store = Store.open(url)
    with store.session() as s, s.begin():
        conv = store.conversation_for(s, "web", "u1", now)
        conv.flow_state = {"stack": [{"flow": "dossier_status", "step": 0}]}
        store.add_message(s, conv, "in", "tra cứu hồ sơ", "check_status", 0.9, now)
    reopened = Store.open(url)
    with reopened.session() as s:
        conv = reopened.conversation_for(s, "web", "u1", now + timedelta(minutes=5))
        assert conv.flow_state["stack"][0]["flow"] == "dossier_status"
        assert [m.text for m in s.execute(select(Message)).scalars()] == ["tra cứu hồ sơ"]


def test_a_long_silence_starts_a_new_conversation(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        first = store.conversation_for(s, "web", "u1", now).id
    with store.session() as s, s.begin():
        assert store.conversation_for(s, "web", "u1", now + timedelta(hours=1)).id == first
        assert store.conversation_for(s, "web", "u1", now + timedelta(days=1)).id != first


def test_forget_removes_the_user_and_everything_they_said(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'd.db'}")
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        conv = store.conversation_for(s, "zalo", "u9", now)
        store.add_message(s, conv, "in", "số tôi 0912345678", now=now)
    assert store.forget("zalo", "u9") == 3
    with store.session() as s:
        assert s.execute(select(Message)).first() is None
    assert store.forget("zalo", "u9") == 0


def test_the_migrations_build_exactly_the_tables_the_models_describe(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.models import Base

    store = Store.open(f"sqlite:///{tmp_path / 'e.db'}")
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_forget_also_removes_tickets_and_feedback(tmp_path):
    from bot.storage import Feedback, Ticket

    store = Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        conv = store.conversation_for(s, "web", "u2", now)
        s.add(Ticket(user_id=conv.user_id, reason="request_human", summary="cần gặp cán bộ", status="open", created_at=now))
        s.add(Feedback(user_id=conv.user_id, kind="rating", rating="satisfied", text="", created_at=now))
    assert store.forget("web", "u2") == 4
    with store.session() as s:
        assert s.execute(select(Ticket)).first() is None
        assert s.execute(select(Feedback)).first() is None
