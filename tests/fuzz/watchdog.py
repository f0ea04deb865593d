"""A watchdog coroutine: how long was the event loop held while something ran?"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class LoopWatchdog:
    """Sleeps in small steps on the running loop and keeps the worst lateness of a wake-up (`worst`).

    A wake-up is late when code on the loop held it (a parse, a search, SQLite run there), and
    also when the process waited for a CPU: on a shared 2-core machine with a load of 10 an idle
    loop wakes up to ~100 ms late now and then. So the watchdog also times every callback the
    loop runs (`held`, and `held_by` saying which): the longest is how long code held the loop,
    whatever the machine's load. A turn's work in a worker thread shows up in neither.
    """

    def __init__(self, step: float = 0.005) -> None:
        self.step = step
        self.worst = 0.0
        self.held = 0.0
        self.held_by = ""
        self._task: asyncio.Task[None] | None = None
        self._run: Any = None

    async def __aenter__(self) -> LoopWatchdog:
        self._run = asyncio.events.Handle._run
        run, watchdog = self._run, self

        def timed(handle: asyncio.events.Handle) -> None:
            started = time.perf_counter()
            try:
                run(handle)
            finally:
                took = time.perf_counter() - started
                if took > watchdog.held:
                    watchdog.held, watchdog.held_by = took, repr(handle)[:300]

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        self._task = asyncio.ensure_future(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        try:
            await asyncio.sleep(self.step)  # a hold that ended with the last turn is still measured
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        finally:
            asyncio.events.Handle._run = self._run  # type: ignore[method-assign]

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.step)
            self.worst = max(self.worst, time.perf_counter() - before - self.step)
