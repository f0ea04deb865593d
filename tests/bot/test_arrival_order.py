"""One person's messages are answered in the order they came, whichever worker receives them.

Two Assistants on one PostgreSQL database stand for two workers. One of them has its only turn thread
busy (someone else's slow turn), so the person's first message waits in its queue while the second,
sent to the other worker 30 ms later, finds that worker free: it must still wait for the first.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.settings import Settings
from tests.bot.test_turns import SLOW, slow_assistant, stored


@pytest.fixture
def two_workers(postgres_url, nlu_model):
    from bot.runtime import build_assistant

    settings = Settings.load(environ={"DATABASE_URL": postgres_url, "TURN_WORKERS": "1"}, env_file=None)
    busy, _ = slow_assistant(settings, nlu_model, seconds=0.6, budget=8)
    free = build_assistant(settings, nlu=nlu_model)
    yield busy, free
    for worker in (busy, free):
        worker.close()
        worker.store.engine.dispose()


async def test_a_message_to_a_free_worker_waits_for_the_same_persons_earlier_message_to_a_busy_one(two_workers, user):
    busy, free = two_workers
    texts = ["làm hộ chiếu cần gì", "lệ phí bao nhiêu"]
    finished: list[str] = []

    async def send(worker, text: str) -> None:
        turn = await worker.handle("web", user, text)
        assert turn.replies
        finished.append(text)

    someone_else = asyncio.ensure_future(busy.handle("web", f"{user}-other", SLOW + "xin chào"))
    await asyncio.sleep(0.05)  # the busy worker's only turn thread is taken
    first = asyncio.ensure_future(send(busy, texts[0]))
    await asyncio.sleep(0.03)
    second = asyncio.ensure_future(send(free, texts[1]))
    await asyncio.gather(someone_else, first, second)
    assert finished == texts
    assert [text for direction, text in stored(free, user) if direction == "in"] == texts  # each once, in order
    assert waiting(free, user) == 0  # each message's arrival ended with its turn


def waiting(worker, user: str) -> int:
    """The person's messages registered on arrival whose turn has not ended."""
    from sqlalchemy import func, select

    from bot.storage.models import ChannelEvent
    from bot.storage.turn_lock import ARRIVED

    with worker.store.session() as session:
        return session.execute(select(func.count()).select_from(ChannelEvent).where(
            ChannelEvent.sender == user, ChannelEvent.status == ARRIVED)).scalar_one()


async def test_a_message_whose_worker_died_before_its_turn_holds_up_the_next_only_for_a_while(two_workers, user):
    from datetime import timedelta

    from bot.storage.models import utcnow
    from bot.storage.turn_lock import ARRIVAL_STALE

    busy, free = two_workers
    # A message registered on arrival by a worker that was killed before its turn ran.
    free.store.arrive("web", user, utcnow() - ARRIVAL_STALE - timedelta(seconds=1))
    turn = await asyncio.wait_for(free.handle("web", user, "lệ phí bao nhiêu"), 5)
    assert turn.replies
    assert [text for direction, text in stored(free, user) if direction == "in"] == ["lệ phí bao nhiêu"]


async def test_messages_are_still_registered_after_the_database_closed_the_registering_connection(two_workers, user):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    busy, free = two_workers
    assert (await free.handle("web", user, "xin chào")).replies
    admin = create_engine(free.store.engine.url.render_as_string(hide_password=False), future=True, poolclass=NullPool)
    with admin.connect() as connection:  # what a server restart does to every open connection
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    admin.dispose()
    assert (await free.handle("web", user, "lệ phí bao nhiêu")).replies
    assert [text for direction, text in stored(free, user) if direction == "in"] == ["xin chào", "lệ phí bao nhiêu"]
    assert waiting(free, user) == 0
