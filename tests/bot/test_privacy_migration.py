"""Migration 0003 on a database written before it: plain rows are encrypted (messages masked) in
place and read back through the Store; a downgrade gives the plain rows back."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import pytest

from bot.storage import ChannelEvent, ChannelState, Conversation, Feedback, Message, Store, Ticket
from bot.storage.crypto import Keyring, attach_keyring, new_key
from bot.storage.db import make_engine, migrate

PHONE = "0912345678"
DOSSIER = "000.00.19.H12-261020-0007"
STATE = {"stack": [{"flow": "dossier_status"}], "slots": {"dossier_status_code": DOSSIER, "note": "đã nộp"}}


def _alembic(url: str, keyring: Keyring, action: str, revision: str) -> None:
    engine = make_engine(url)
    attach_keyring(engine, keyring)
    try:
        migrate(engine, revision, downgrade=action == "downgrade")
    finally:
        engine.dispose()


@pytest.fixture
def old_database(tmp_path):
    """A database at revision 0002 with rows as the assistant wrote them before 0003."""
    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    _alembic(url, Keyring.from_text(new_key()), "upgrade", "0002")
    now = datetime(2026, 11, 1, 9, 0)
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO users (id, channel, external_id, created_at, last_seen_at) VALUES (1, 'zalo', 'u1', ?, ?)",
                    (now, now))
        raw.execute("INSERT INTO conversations (id, user_id, started_at, updated_at, flow_state) VALUES (1, 1, ?, ?, ?)",
                    (now, now, json.dumps(STATE)))
        raw.execute("INSERT INTO messages (conversation_id, direction, text, created_at) VALUES (1, 'in', ?, ?)",
                    (f"hồ sơ {DOSSIER}, sđt {PHONE}", now))
        raw.execute("INSERT INTO tickets (user_id, reason, summary, status, created_at) "
                    "VALUES (1, 'request_human', ?, 'open', ?)",
                    (f"gọi lại {PHONE}", now))
        raw.execute("INSERT INTO feedback (user_id, kind, text, created_at) VALUES (1, 'complaint', ?, ?)",
                    (f"phản ánh, số tôi {PHONE}", now))
        raw.execute("INSERT INTO channel_state (channel, key, value, updated_at) "
                    "VALUES ('zalo', 'refresh_token', 'RT-secret', ?)",
                    (now,))
        raw.execute("INSERT INTO channel_events (channel, event_id, payload, status, attempts, received_at) "
                    "VALUES ('zalo', 'm1', ?, 'pending', 0, ?)",
                    (json.dumps({"message": {"text": f"sđt {PHONE}"}}), now))
    return db


def _dump(db) -> str:
    with sqlite3.connect(db) as raw:
        return json.dumps([
            raw.execute(f"SELECT * FROM {t}").fetchall()
            for t in ("conversations", "messages", "tickets", "feedback", "channel_state", "channel_events")
        ], ensure_ascii=False)


def test_upgrade_encrypts_plain_rows_which_the_store_then_reads(old_database):
    key = Keyring.from_text(new_key())
    assert PHONE in _dump(old_database) and "RT-secret" in _dump(old_database)

    store = Store.open(f"sqlite:///{old_database}", key)  # upgrades to head

    raw = _dump(old_database)
    assert json.loads(raw)[1] != [], "the messages survived the copy of the conversations table"
    assert PHONE not in raw and DOSSIER not in raw and "RT-secret" not in raw and "dossier_status" not in raw
    with store.session() as session:
        assert session.get(Conversation, 1).flow_state == STATE
        assert session.query(Ticket).one().summary == f"gọi lại {PHONE}"
        assert session.query(Feedback).one().text == f"phản ánh, số tôi {PHONE}"
        assert session.get(ChannelState, ("zalo", "refresh_token")).value == "RT-secret"
        assert session.query(ChannelEvent).one().payload == {"message": {"text": f"sđt {PHONE}"}}
        text = session.query(Message).one().text
        assert text.startswith("hồ sơ [mã hồ sơ") and "[sđt 09***78]" in text  # statistics keep the words


def test_downgrade_gives_the_plain_rows_back(old_database):
    key = Keyring.from_text(new_key())
    url = f"sqlite:///{old_database}"
    Store.open(url, key).engine.dispose()

    _alembic(url, key, "downgrade", "0002")

    with sqlite3.connect(old_database) as raw:
        assert json.loads(raw.execute("SELECT flow_state FROM conversations").fetchone()[0]) == STATE
        assert raw.execute("SELECT summary FROM tickets").fetchone()[0] == f"gọi lại {PHONE}"
        assert raw.execute("SELECT value FROM channel_state").fetchall() == [("RT-secret",)]  # the key check is gone
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (1,)  # not lost to a table copy
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "retained_counts" not in tables


def test_a_downgrade_with_the_wrong_key_changes_nothing(old_database):
    from bot.storage.crypto import DataKeyError

    url = f"sqlite:///{old_database}"
    Store.open(url, Keyring.from_text(new_key())).engine.dispose()
    before = _dump(old_database)
    with pytest.raises(DataKeyError):
        _alembic(url, Keyring.from_text(new_key()), "downgrade", "0002")
    assert _dump(old_database) == before
