"""Personal data at rest and in logs: real turns through the real Assistant, then the raw database
file and rows read with plain sqlite3, and the log lines as the server prints them."""

from __future__ import annotations

import io
import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.privacy import setup_logging
from bot.settings import Settings
from bot.storage import ChannelState, Conversation, Feedback, Store, Ticket, User
from bot.storage.crypto import Keyring, new_key

ID_NUMBER = "001203004567"
PHONE = "0912345678"
PHONE_INTL = "+84987654321"
DOSSIER = "000.00.19.H12-261020-0007"  # not a demo dossier: a person's own code
SECRETS = (ID_NUMBER, PHONE, PHONE_INTL, DOSSIER, "987654321")

SEND = '/choose{"choice": "send"}'
DELETE = '/choose{"choice": "delete"}'


@pytest.fixture
def server_log():
    """The log lines exactly as `python -m bot serve` prints them (its handler, its masking filter)."""
    root = logging.getLogger()
    handlers, level, raising = root.handlers[:], root.level, logging.raiseExceptions
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)
    try:
        yield out.getvalue
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.raiseExceptions = raising


@pytest.fixture
def private_assistant(tmp_path, nlu_model):
    """An Assistant on its own database and its own data key."""
    from bot.runtime import build_assistant

    settings = Settings.load(
        environ={"DATABASE_URL": f"sqlite:///{tmp_path / 'private.db'}", "DATA_KEY": new_key()}, env_file=None
    )
    return build_assistant(settings, nlu=nlu_model), tmp_path / "private.db"


def _raw_cells(db: Path) -> list[str]:
    """Every text value of every table, read with plain sqlite3 (no key, no SQLAlchemy)."""
    with sqlite3.connect(db) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [str(v) for t in tables for row in raw.execute(f'SELECT * FROM "{t}"') for v in row if v is not None]


def _raw_bytes(db: Path) -> str:
    """The database file and its write-ahead log as bytes, decoded leniently (deleted pages included)."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")).decode("utf-8", "replace")


async def _converse(assistant, user: str) -> None:
    """A status check with a dossier code, a complaint with a phone and an ID number, a request for a person."""
    turn = await assistant.handle("terminal", user, f"hồ sơ {DOSSIER} của tôi đến đâu rồi")
    assert turn.slots.get("dossier_status_code") == DOSSIER
    await assistant.handle("terminal", user, "tôi muốn gửi phản ánh")
    turn = await assistant.handle(
        "terminal", user, f"Cán bộ hẹn mà không trả kết quả. Gọi tôi số {PHONE}, CCCD {ID_NUMBER} ạ"
    )
    assert "Gửi" in " ".join(b.title for b in turn.buttons)
    turn = await assistant.handle("terminal", user, SEND)
    assert "complaint" in turn.completed
    turn = await assistant.handle("terminal", user, f"cho tôi gặp cán bộ, số điện thoại {PHONE_INTL}")
    assert "handover" in turn.completed


async def test_personal_data_is_in_no_log_line_and_in_no_raw_database_row(private_assistant, server_log):
    assistant, db = private_assistant
    await _converse(assistant, "citizen-1")

    log = server_log()
    assert "turn user=terminal:citizen-1" in log  # the turns were logged, masked
    assert [s for s in SECRETS if s in log] == []
    assert [s for s in SECRETS if any(s in cell for cell in _raw_cells(db))] == []
    assert [s for s in SECRETS if s in _raw_bytes(db)] == []

    # ... yet what staff act on is there, through the Store with the key.
    with assistant.store.session() as session:
        user = session.execute(select(User).where(User.external_id == "citizen-1")).scalar_one()
        complaint = session.execute(select(Feedback).where(Feedback.user_id == user.id)).scalar_one()
        ticket = session.execute(select(Ticket).where(Ticket.user_id == user.id)).scalar_one()
        states = session.execute(select(Conversation.flow_state).where(Conversation.user_id == user.id)).scalars()
        assert PHONE in complaint.text and ID_NUMBER in complaint.text
        assert PHONE_INTL in ticket.summary
        assert any(DOSSIER in str(state) for state in states) or DOSSIER in ticket.summary


async def test_deleting_my_data_leaves_nothing_of_it(private_assistant):
    assistant, db = private_assistant
    await _converse(assistant, "citizen-2")
    await _converse(assistant, "neighbour")
    await assistant.handle("terminal", "citizen-2", "/xoadulieu")
    turn = await assistant.handle("terminal", "citizen-2", DELETE)
    assert "delete_data" in turn.completed

    with sqlite3.connect(db) as raw:
        (user_id,) = raw.execute("SELECT id FROM users WHERE external_id = 'neighbour'").fetchone()
        assert raw.execute("SELECT count(*) FROM users WHERE external_id = 'citizen-2'").fetchone() == (0,)
        for table in ("conversations", "tickets", "feedback"):
            others = raw.execute(f"SELECT count(*) FROM {table} WHERE user_id != ?", (user_id,)).fetchone()
            assert others == (0,), f"{table} keeps rows of the deleted user"
        assert raw.execute(
            "SELECT count(*) FROM messages JOIN conversations c ON c.id = conversation_id WHERE c.user_id != ?",
            (user_id,),
        ).fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM feedback").fetchone() == (1,)  # the neighbour's stays


def test_a_wrong_key_is_refused_at_start_and_an_old_key_still_opens_after_rotation(tmp_path):
    from bot.storage.crypto import DataKeyError

    url = f"sqlite:///{tmp_path / 'keyed.db'}"
    old_key = new_key()
    store = Store.open(url, Keyring.from_text(old_key))
    with store.session() as session, session.begin():
        session.add(ChannelState(channel="zalo", key="refresh_token", value="secret-refresh-token"))
    with pytest.raises(DataKeyError, match="keyed.db: the data key .* is not the key this database was encrypted with"):
        Store.open(url, Keyring.from_text(new_key()))
    # Rotation: the new key first encrypts what is written; the old one after it still reads.
    rotated = Store.open(url, Keyring.from_text(f"{new_key()},{old_key}"))
    with rotated.session() as session:
        assert session.get(ChannelState, ("zalo", "refresh_token")).value == "secret-refresh-token"


def test_the_command_line_refuses_a_wrong_key(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    db = tmp_path / "cli.db"
    Store.open(f"sqlite:///{db}", Keyring.from_text(new_key()))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("DATA_KEY", new_key())
    assert main(["privacy", "purge"]) == 2
    err = capsys.readouterr().err
    assert "wrong data key" in err and "cli.db" in err and "not the key this database was encrypted with" in err


def test_a_fresh_machine_gets_a_key_file_readable_only_by_its_owner(tmp_path, caplog):
    from bot.storage.crypto import keyring_from_settings

    settings = Settings.load(environ={"DATA_KEY_FILE": str(tmp_path / "var" / "data.key")}, env_file=None)
    with caplog.at_level(logging.WARNING):
        first = keyring_from_settings(settings)
    key_file = tmp_path / "var" / "data.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "generated a new data key" in caplog.text
    caplog.clear()
    again = keyring_from_settings(settings)  # the next start reads the same key, quietly
    assert again.decrypt(first.encrypt("xin chào")) == "xin chào"
    assert "generated" not in caplog.text


def test_stored_zalo_tokens_are_encrypted(tmp_path):
    db = tmp_path / "tokens.db"
    store = Store.open(f"sqlite:///{db}", Keyring.from_text(new_key()))
    with store.session() as session, session.begin():
        session.add(ChannelState(channel="zalo", key="access_token", value="AT-1234567890abcdef"))
    assert not any("AT-1234567890abcdef" in cell for cell in _raw_cells(db))
    with store.session() as session:
        assert session.get(ChannelState, ("zalo", "access_token")).value == "AT-1234567890abcdef"


def test_a_traceback_in_the_log_is_masked_too(server_log):
    try:
        raise ValueError(f"could not read {PHONE} / {ID_NUMBER}")
    except ValueError:
        logging.getLogger("bot.test").exception("turn failed for hồ sơ %s", DOSSIER)
    log = server_log()
    assert "ValueError" in log and "turn failed" in log
    assert [s for s in SECRETS if s in log] == []


def test_rekey_moves_every_encrypted_value_to_the_new_key_so_the_old_one_can_go(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main
    from bot.storage.crypto import DataKeyError

    old, new = new_key(), new_key()
    db = tmp_path / "rekey.db"
    store = Store.open(f"sqlite:///{db}", Keyring.from_text(old))
    with store.session() as session, session.begin():
        user = User(channel="zalo", external_id="u1")
        session.add(user)
        session.flush()
        session.add(Conversation(user_id=user.id, flow_state={"slots": {"code": DOSSIER}}))
        session.add(Feedback(user_id=user.id, kind="complaint", text=f"gọi {PHONE}"))
        session.add(ChannelState(channel="zalo", key="refresh_token", value="RT"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("DATA_KEY", f"{new},{old}")
    assert main(["privacy", "rekey"]) == 0
    assert "Đã mã hoá lại" in capsys.readouterr().out

    only_new = Store.open(f"sqlite:///{db}", Keyring.from_text(new))
    with only_new.session() as session:
        assert session.query(Conversation).one().flow_state == {"slots": {"code": DOSSIER}}
        assert session.query(Feedback).one().text == f"gọi {PHONE}"
        assert session.get(ChannelState, ("zalo", "refresh_token")).value == "RT"
    with pytest.raises(DataKeyError):
        Store.open(f"sqlite:///{db}", Keyring.from_text(old))


def test_a_zalo_message_waiting_in_the_inbox_is_encrypted_and_answered_as_sent(tmp_path):
    from bot.channels.durable import EventInbox
    from bot.storage.models import utcnow

    db = tmp_path / "inbox.db"
    inbox = EventInbox(Store.open(f"sqlite:///{db}", Keyring.from_text(new_key())), "zalo")
    event = {"event_name": "user_send_text", "sender": {"id": "z1"},
             "message": {"msg_id": "m1", "text": f"hồ sơ {DOSSIER}, số {PHONE}"}}
    row = inbox.record("z1", "m1", event, utcnow())

    assert [s for s in SECRETS if any(s in cell for cell in _raw_cells(db))] == []
    assert row is not None and inbox.stored(row) == ("pending", event)
    claim = inbox.claim(row, utcnow())
    assert claim is not None and claim.payload == event
