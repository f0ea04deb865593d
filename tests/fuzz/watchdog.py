"""A watchdog coroutine: how long was the event loop held while something ran?"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class LoopWatchdog:
    """Sleeps in small steps on the running loop and keeps the worst lateness of a wake-up.

    A turn that does its work on the loop (parsing, searching, SQLite) shows up as a wake-up
    that late; work in a worker thread does not.
    """

    def __init__(self, step: float = 0.005) -> None:
        self.step = step
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopWatchdog:
        self._task = asyncio.ensure_future(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        await asyncio.sleep(self.step)  # a hold that ended with the last turn is still measured
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.step)
            self.worst = max(self.worst, time.perf_counter() - before - self.step)
