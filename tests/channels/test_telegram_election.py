"""Telegram long polling with several workers: exactly one polls, elected through the database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest

from tests.channels.fake_telegram import FakeTelegram, running_bot, wait_until


@pytest.fixture
async def fake():
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


def polling(bot) -> bool:
    return bool(bot.channel.application.updater and bot.channel.application.updater.running)


async def test_two_workers_on_one_database_poll_telegram_from_exactly_one_and_hand_over(
    assistant, settings, fake, monkeypatch
):
    monkeypatch.setattr("bot.storage.election.LEASE_TTL", timedelta(seconds=0.6))
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_bot(assistant, settings, fake))
        second_stack = contextlib.AsyncExitStack()
        second = await second_stack.enter_async_context(running_bot(assistant, settings, fake))
        await asyncio.sleep(1.0)  # several renewals
        assert [polling(first), polling(second)].count(True) == 1
        holder, other = (first, second) if polling(first) else (second, first)
        if holder is second:
            await second_stack.aclose()
        else:
            await stack.aclose()
        await wait_until(lambda: polling(other), timeout=3)  # the other worker took over
        fake.message(710_000_001, "xin chào")
        await wait_until(lambda: fake.calls_of("sendMessage", 710_000_001), timeout=15)
        await second_stack.aclose()
