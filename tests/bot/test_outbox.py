"""The outbox: one message per cause, claimed once, retried with backoff, held for the next visit."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.outbox import Delivery, Dispatcher, enqueue, record_receipt, take_for_visit
from bot.storage import Store
from bot.storage.models import OutboxAttempt, OutboxMessage, utcnow
from flows.replies import Button, Reply

NOTICE = [Reply("🔔 Hồ sơ của bạn có thay đổi", buttons=(Button("Xem", "/check_status"),))]


class Recording:
    """A sender that answers the deliveries it is given, in turn, and keeps what it was asked to send."""

    def __init__(self, *deliveries: Delivery):
        self.deliveries = list(deliveries)
        self.sent: list[tuple[str, list[Reply]]] = []

    async def send(self, user_id: str, replies: list[Reply], **_: object) -> Delivery:
        self.sent.append((user_id, replies))
        return self.deliveries.pop(0) if self.deliveries else Delivery("sent", via="test", message_id="m1")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'outbox.db'}")


def _enqueue(store: Store, key: str = "k1", channel: str = "telegram") -> bool:
    with store.session() as session, session.begin():
        return enqueue(session, channel, "42", NOTICE, "dossier_notice", key)


def _rows(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def test_the_same_cause_enqueued_twice_is_one_message(store):
    assert _enqueue(store) is True
    assert _enqueue(store) is False
    assert len(_rows(store)) == 1


def test_a_message_is_sent_once_with_its_buttons_and_the_receipt_is_stored(store):
    _enqueue(store)
    sender = Recording()
    dispatcher = Dispatcher(store)
    dispatcher.register("telegram", sender)
    assert asyncio.run(dispatcher.dispatch_once()) == 1
    assert asyncio.run(dispatcher.dispatch_once()) == 0
    assert sender.sent == [("42", NOTICE)]
    with store.session() as session, session.begin():
        assert record_receipt(session, "m1")
    [row] = _rows(store)
    assert (row.status, row.via, row.attempts, row.received_at is not None) == ("delivered", "test", 1, True)


def test_a_failing_platform_is_retried_with_backoff_then_given_up(store):
    _enqueue(store)
    sender = Recording(*[Delivery("retry", via="test", error_code="502", error="HTTP 502")] * 3)
    dispatcher = Dispatcher(store, max_attempts=3, backoff_base=60)
    dispatcher.register("telegram", sender)
    asyncio.run(dispatcher.dispatch_once())
    [row] = _rows(store)
    assert row.status == "pending" and row.next_attempt_at > utcnow() + timedelta(seconds=40)
    assert asyncio.run(dispatcher.dispatch_once()) == 0  # not before its time
    for _ in range(2):
        with store.session() as session, session.begin():
            session.get(OutboxMessage, row.id).next_attempt_at = utcnow()
        asyncio.run(dispatcher.dispatch_once())
    [row] = _rows(store)
    assert (row.status, row.attempts, row.last_error_code) == ("failed", 3, "502")
    with store.session() as session:
        codes = session.execute(select(OutboxAttempt.error_code)).scalars().all()
    assert codes == ["502", "502", "502"]


def test_a_blocked_bot_is_recorded_not_retried_and_shown_at_the_next_visit(store):
    _enqueue(store)
    dispatcher = Dispatcher(store)
    dispatcher.register("telegram", Recording(Delivery("undeliverable", via="telegram", error_code="403")))
    asyncio.run(dispatcher.dispatch_once())
    assert asyncio.run(dispatcher.dispatch_once()) == 0
    with store.session() as session, session.begin():
        assert take_for_visit(session, "telegram", "42") == NOTICE
    with store.session() as session, session.begin():
        assert take_for_visit(session, "telegram", "42") == []


def test_a_channel_without_a_sender_holds_the_message_for_the_next_visit(store):
    _enqueue(store, channel="web")
    asyncio.run(Dispatcher(store).dispatch_once())
    assert _rows(store)[0].status == "held"
    with store.session() as session, session.begin():
        assert take_for_visit(session, "web", "42") == NOTICE


def test_a_row_left_sending_by_a_killed_worker_is_sent_after_the_lease(store):
    _enqueue(store)
    dispatcher = Dispatcher(store, lease=timedelta(minutes=5))
    dispatcher.claim(utcnow())  # claimed, then the process died before sending
    sender = Recording()
    dispatcher.register("telegram", sender)
    assert asyncio.run(dispatcher.dispatch_once()) == 0
    with store.session() as session, session.begin():
        session.get(OutboxMessage, 1).claimed_at = utcnow() - timedelta(minutes=6)
    assert asyncio.run(dispatcher.dispatch_once()) == 1
    assert len(sender.sent) == 1 and _rows(store)[0].status == "delivered"


def test_workers_claim_with_skip_locked_on_postgresql(store):
    from sqlalchemy.dialects import postgresql

    sql = str(Dispatcher(store).due(utcnow()).compile(dialect=postgresql.dialect()))
    assert sql.rstrip().endswith("FOR UPDATE SKIP LOCKED")
