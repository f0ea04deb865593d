"""The encrypted types, migration 0003, purge and export on PostgreSQL (the run's throwaway server)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import text

from bot.storage import ChannelEvent, ChannelState, Conversation, Feedback, Message, Store, Ticket
from bot.storage.crypto import DataKeyError, Keyring, new_key
from bot.storage.db import make_engine
from bot.storage.export import export_person
from bot.storage.retention import purge
from tests.bot.test_privacy_migration import PHONE, STATE, _alembic


@pytest.fixture
def empty_postgres(postgres_url):
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    yield engine, postgres_url
    engine.dispose()


def test_plain_rows_encrypted_read_purged_exported_and_decrypted_on_downgrade(empty_postgres):
    engine, url = empty_postgres
    key = Keyring.from_text(new_key())
    _alembic(url, key, "upgrade", "0002")
    then = datetime(2025, 1, 1)
    with engine.begin() as c:
        c.execute(text("INSERT INTO users (id, channel, external_id, created_at, last_seen_at) "
                       "VALUES (1, 'zalo', 'u1', :n, :n)"), {"n": then})
        c.execute(text("INSERT INTO conversations (id, user_id, started_at, updated_at, flow_state) "
                       "VALUES (1, 1, :n, :n, :s)"), {"n": then, "s": json.dumps(STATE)})
        c.execute(text("INSERT INTO messages (conversation_id, direction, text, created_at) VALUES (1, 'in', :t, :n)"),
                  {"n": then, "t": f"sđt {PHONE}"})
        c.execute(text("INSERT INTO tickets (user_id, reason, summary, status, created_at) "
                       "VALUES (1, 'stuck', :t, 'open', :n)"), {"n": then, "t": f"gọi {PHONE}"})
        c.execute(text("INSERT INTO channel_state (channel, key, value, updated_at) VALUES ('zalo', 'refresh_token', 'RT', :n)"),
                  {"n": then})
        c.execute(text("INSERT INTO channel_events (channel, event_id, payload, status, attempts, received_at) "
                       "VALUES ('zalo', 'm1', :p, 'done', 0, :n)"), {"n": then, "p": json.dumps({"a": 1})})

    store = Store.open(url, key)
    with store.session() as session, session.begin():
        assert session.get(Conversation, 1).flow_state == STATE
        assert session.query(Ticket).one().summary == f"gọi {PHONE}"
        assert session.get(ChannelState, ("zalo", "refresh_token")).value == "RT"
        assert session.query(ChannelEvent).one().payload == {"a": 1}
        assert session.query(Message).one().text == "sđt [sđt 09***78]"
        session.add(Feedback(user_id=1, kind="rating", rating="satisfied", text="ok", created_at=then))
    with engine.connect() as c:
        raw = str(c.execute(text("SELECT flow_state FROM conversations")).all())
        raw += str(c.execute(text("SELECT summary FROM tickets")).all())
    assert PHONE not in raw and "dossier_status" not in raw
    assert export_person(store, "zalo", "u1")["tickets"][0]["summary"] == f"gọi {PHONE}"
    with pytest.raises(DataKeyError):
        Store.open(url, Keyring.from_text(new_key()))

    report = purge(store, 30, datetime(2026, 1, 1))
    assert report.deleted["conversations"] == 1 and report.deleted["feedback"] == 1
    store.engine.dispose()

    _alembic(url, key, "downgrade", "0002")
    with engine.connect() as c:
        assert c.execute(text("SELECT summary FROM tickets")).all() == [(f"gọi {PHONE}",)]
        assert c.execute(text("SELECT value FROM channel_state")).all() == [("RT",)]
