"""Two worker processes on one port against one PostgreSQL, as `WORKERS=2 python -m bot serve` runs them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, select

from bot.storage.models import Conversation, Message, User

ROOT = Path(__file__).resolve().parents[2]
# Twenty different questions, none of them the title of a button (typing a title presses it).
QUESTIONS = [f"cho tôi hỏi việc số {n}" for n in range(1, 21)]
# The test speaks as a front end of the JSON API (API_KEYS), which names its own users.
API_KEY = "workers-test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_workers(postgres, tmp_path):
    url = postgres.create_database("workers")
    port = free_port()
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 - read after the server stops
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "WORKERS": "2", "HOST": "127.0.0.1",
           "TELEGRAM_BOT_TOKEN": "", "ZALO_APP_ID": "", "LOG_LEVEL": "INFO", "PYTHONWARNINGS": "ignore",
           "API_KEYS": f"workers:{API_KEY}"}
    env.pop("BOT_WORKER", None)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        text = Path(log.name).read_text()
        if text.count("Web chat ready") >= 2:
            break
        assert server.poll() is None and time.monotonic() < deadline, f"the workers did not start:\n{text[-2000:]}"
        time.sleep(0.2)
    yield url, port, Path(log.name)
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    log.close()


def conversation_of(url: str, user: str) -> list:
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Message.direction, Message.text)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(User, Conversation.user_id == User.id)
            .where(User.external_id == user)
            .order_by(Message.id)
        ).all()
    engine.dispose()
    return rows


async def test_one_persons_twenty_rapid_messages_are_answered_in_order_and_once_by_two_workers(two_workers):
    url, port, log = two_workers
    # A new connection per message, so the kernel spreads them over both workers.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:

        async def chat(user: str, text: str) -> dict:
            async with http.post(f"http://127.0.0.1:{port}/api/chat", json={"user": user, "text": text},
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as r:
                assert r.status == 200, await r.text()
                return await r.json()

        async def crowd() -> None:  # other people keep both workers busy meanwhile
            for round_ in range(4):
                await asyncio.gather(*(chat(f"other-{n}", f"hỏi lần {round_}") for n in range(8)))

        async def rapid_person() -> list[dict]:  # each message the moment the last one is answered
            return [await chat("rapid", q) for q in QUESTIONS]

        answers, _ = await asyncio.gather(rapid_person(), crowd())
        # and the same person sending twenty at once: no order is defined, but each is answered once,
        # alone (the replies stored after a message are exactly the ones its answer carried)
        burst = [f"hỏi cùng lúc số {n}" for n in range(1, 21)]
        burst_answers = await asyncio.gather(*(chat("burst", q) for q in burst))

    rows = conversation_of(url, "rapid")
    assert [r.text for r in rows if r.direction == "in"] == QUESTIONS  # each once, in the order sent
    assert [r.text for r in rows if r.direction == "out"] == [reply["text"] for a in answers for reply in a["replies"]]

    rows = conversation_of(url, "burst")
    said = [r.text for r in rows if r.direction == "in"]
    assert sorted(said) == sorted(burst)
    replies_of = dict(zip(burst, ([r["text"] for r in a["replies"]] for a in burst_answers)))
    assert [r.text for r in rows if r.direction == "out"] == [text for s in said for text in replies_of[s]]

    per_worker = {w: len(re.findall(rf" w{w} INFO bot.assistant: turn", log.read_text())) for w in (1, 2)}
    assert sum(per_worker.values()) == 20 + 32 + 20 and all(per_worker.values()), per_worker


def test_workers_above_one_on_sqlite_stop_at_start_with_a_clear_message(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "WORKERS": "2"}
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "WORKERS=2 needs PostgreSQL" in done.stderr and "DATABASE_URL" in done.stderr
