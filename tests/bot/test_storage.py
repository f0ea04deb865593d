from datetime import datetime, timedelta

import pytest
from sqlalchemy import inspect, select

from bot.storage import Message, Store


def test_migrations_create_the_schema_and_running_them_again_changes_nothing(database_url):
    url = database_url
    store = Store.open(url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "conversations", "messages", "alembic_version"} <= tables
    Store.open(url)  # second start: already at head


def test_flow_state_and_messages_survive_a_restart(database_url):
    url = database_url
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


def test_a_long_silence_starts_a_new_conversation(database_url):
    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        first = store.conversation_for(s, "web", "u1", now).id
    with store.session() as s, s.begin():
        assert store.conversation_for(s, "web", "u1", now + timedelta(hours=1)).id == first
        assert store.conversation_for(s, "web", "u1", now + timedelta(days=1)).id != first


def test_forget_removes_the_user_and_everything_they_said(database_url):
    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        conv = store.conversation_for(s, "zalo", "u9", now)
        store.add_message(s, conv, "in", "số tôi 0912345678", now=now)
    assert store.forget("zalo", "u9") == 3
    with store.session() as s:
        assert s.execute(select(Message)).first() is None
    assert store.forget("zalo", "u9") == 0


def test_the_migrations_build_exactly_the_tables_the_models_describe(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.storage.models import Base

    store = Store.open(database_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_forget_also_removes_tickets_and_feedback(database_url):
    from bot.storage import Feedback, Ticket

    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)
    with store.session() as s, s.begin():
        conv = store.conversation_for(s, "web", "u2", now)
        s.add(Ticket(user_id=conv.user_id, reason="request_human", summary="cần gặp cán bộ", status="open", created_at=now))
        s.add(Feedback(user_id=conv.user_id, kind="rating", rating="satisfied", text="", created_at=now))
    assert store.forget("web", "u2") == 4
    with store.session() as s:
        assert s.execute(select(Ticket)).first() is None
        assert s.execute(select(Feedback)).first() is None


def test_every_migration_goes_down_to_nothing_and_up_again(database_url):
    from bot.storage.db import downgrade, migrate

    store = Store.open(database_url)
    before = set(inspect(store.engine).get_table_names())
    downgrade(store.engine, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    migrate(store.engine)
    assert set(inspect(store.engine).get_table_names()) == before
    with store.session() as s, s.begin():  # and the schema works after the round trip
        store.conversation_for(s, "web", "u1", datetime(2026, 11, 22, 9, 0))
    store.engine.dispose()


def test_one_persons_turn_waits_for_their_previous_turn_but_not_for_anyone_else(database_url, db_backend):
    import threading
    import time

    if db_backend != "postgresql":
        pytest.skip("SQLite serves one worker; its turns are serialised in the process (see Assistant)")
    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)
    events: list[str] = []

    def turn(person: str, text: str) -> None:
        with store.conversation_lock("zalo", person) as held:
            conversation_id, state = held.read(now)
            events.append(f"{person} read {state.get('said', [])}")
            held.save(conversation_id, {"said": [*state.get("said", []), text]}, now, [("in", text, None, None, None)])

    with store.conversation_lock("zalo", "u1") as first:
        conversation_id, _ = first.read(now)
        second = threading.Thread(target=turn, args=("u1", "second"))
        second.start()
        other = threading.Thread(target=turn, args=("u2", "hello"))
        other.start()
        other.join(5)
        assert events == ["u2 read []"]  # someone else is never held up
        time.sleep(0.3)
        assert events == ["u2 read []"]  # u1's second message waits for the first
        first.save(conversation_id, {"said": ["first"]}, now, [("in", "first", None, None, None)])
        events.append("u1 first done")
    second.join(5)
    assert events == ["u2 read []", "u1 first done", "u1 read ['first']"]  # and then sees what the first stored
    with store.session() as s:
        assert [m.text for m in s.execute(select(Message).order_by(Message.id)).scalars()] == ["hello", "first", "second"]
    store.engine.dispose()


def test_a_lease_elects_one_holder_until_it_stops_renewing(database_url):
    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)
    ttl = timedelta(seconds=30)
    assert store.claim_lease("telegram_polling", "worker-a", ttl, now)
    assert not store.claim_lease("telegram_polling", "worker-b", ttl, now + timedelta(seconds=10))
    assert store.claim_lease("telegram_polling", "worker-a", ttl, now + timedelta(seconds=20))  # renewed
    assert not store.claim_lease("telegram_polling", "worker-b", ttl, now + timedelta(seconds=45))
    assert store.claim_lease("telegram_polling", "worker-b", ttl, now + timedelta(seconds=51))  # a stopped: b takes over
    store.release_lease("telegram_polling", "worker-a")  # not a's any more: nothing happens
    assert not store.claim_lease("telegram_polling", "worker-a", ttl, now + timedelta(seconds=52))
    store.release_lease("telegram_polling", "worker-b")
    assert store.claim_lease("telegram_polling", "worker-a", ttl, now + timedelta(seconds=53))
    store.engine.dispose()


def test_a_turn_survives_the_database_closing_its_pooled_connections(database_url, db_backend):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    if db_backend != "postgresql":
        pytest.skip("a PostgreSQL server restart; SQLite has no server")
    store = Store.open(database_url)
    now = datetime(2026, 11, 22, 9, 0)

    def turn(said: str) -> None:
        with store.conversation_lock("web", "u1") as held:
            conversation_id, _ = held.read(now)
            assert held.save(conversation_id, {}, now, [("in", said, None, None, None)])

    turn("before")
    admin = create_engine(database_url, future=True, poolclass=NullPool)
    with admin.connect() as connection:  # what a restart does to the pool's idle connections
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))
    admin.dispose()
    turn("after")
    with store.session() as s:
        assert [m.text for m in s.execute(select(Message).order_by(Message.id)).scalars()] == ["before", "after"]
    store.engine.dispose()
