"""The outbox with several workers on PostgreSQL: rows claimed with FOR UPDATE SKIP LOCKED by four
dispatchers at once, each message sent exactly once; and pushed events applied once under concurrency.
On the run's throwaway PostgreSQL server (tests/conftest.py `postgres_url`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import select, text

from bot.dossiers import save_dossiers
from bot.dossiers.events import StatusEvent, apply_event, vietnam_time
from bot.dossiers.service import DossierService
from bot.outbox import Delivery, Dispatcher, enqueue
from bot.storage import Store
from bot.storage.db import make_engine
from bot.storage.models import OutboxMessage
from flows.replies import Reply
from flows.services import DossierRecord


@pytest.fixture
def store(postgres_url: str) -> Store:
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    store = Store.open(postgres_url)
    yield store
    store.engine.dispose()


class Slow:
    """A sender that takes a moment, so that the workers overlap."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    async def send(self, user_id: str, replies: list[Reply], **_: object) -> Delivery:
        await asyncio.sleep(0.002)
        self.sent[user_id] += 1
        return Delivery("sent", via="test")


def test_four_workers_send_each_of_300_messages_exactly_once(store):
    with store.session() as session, session.begin():
        for n in range(300):
            enqueue(session, "telegram", f"u{n}", [Reply(f"tin {n}")], "test", f"k{n}")
    sender = Slow()

    async def worker() -> None:
        dispatcher = Dispatcher(store, batch=10)
        dispatcher.register("telegram", sender)
        while await dispatcher.dispatch_once():
            pass

    async def all_workers() -> None:
        await asyncio.gather(*(worker() for _ in range(4)))

    asyncio.run(all_workers())
    assert len(sender.sent) == 300 and set(sender.sent.values()) == {1}
    with store.session() as session:
        assert set(session.execute(select(OutboxMessage.status)).scalars()) == {"delivered"}


def test_the_same_event_applied_by_eight_workers_at_once_notifies_each_subscriber_once(store):
    code = "000.00.19.H12-261120-0007"
    save_dossiers(store, [DossierRecord(code, "received", "Đăng ký tạm trú", None, date(2026, 11, 20))])
    service = DossierService(store, [])
    for n in range(5):
        service.subscribe(f"zalo:{n}", code, "received")
    event = StatusEvent("office", "ev-1", code, "supplement_required", "5", vietnam_time("20261201093000"))

    def apply() -> str:
        for _ in range(5):
            try:
                with store.session() as session, session.begin():
                    return apply_event(session, event)
            except Exception:  # the twin's unique key or a serialisation: try again, as the endpoint does
                continue
        return "failed"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: apply(), range(8)))
    assert results.count("applied") == 1 and results.count("duplicate") == 7
    with store.session() as session:
        assert len(session.execute(select(OutboxMessage)).scalars().all()) == 5
