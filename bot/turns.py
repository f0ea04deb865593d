"""Where a turn runs: worker threads off the event loop, one turn at a time per user, a time budget.

The event loop only waits: understanding, the flows and the database run in a `TurnPool`
thread, so `/healthz`, other users and the webhooks go on while a turn works. `UserTurns` keeps
one user's turns one at a time and in the order they came. A `TurnTicket` says once whether a
turn's replies go back to the caller waiting for them or, when the caller gave up at the time
budget, wait for the user's next message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TurnPool:
    """A fixed number of worker threads running turns.

    Daemon threads, unlike `ThreadPoolExecutor`'s, which the interpreter joins at exit: a turn
    stuck in a slow provider never keeps a stopped server (SIGTERM) from exiting.
    """

    def __init__(self, workers: int, name: str = "turn") -> None:
        if workers < 1:
            raise ValueError("a turn pool needs at least one worker")
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Runs ``fn(*args)`` on a worker as soon as one is free."""
        if self._closed:
            raise RuntimeError("the turn pool is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((future, fn, args))
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Awaits ``fn(*args)`` run on a worker; the event loop is free meanwhile."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def close(self) -> None:
        """Takes no more work; idle workers end, a busy one ends after its turn (or with the process)."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():  # cancelled while it waited for a worker
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to whoever awaits the turn
                future.set_exception(e)


class UserTurns:
    """One turn at a time per user, in the order the messages came (an asyncio lock is fair).

    In-process: one server process. Several processes need a lock on the user's conversation
    row instead; this class is the one place to change.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, user_key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(user_key, asyncio.Lock())
        self._holders[user_key] = self._holders.get(user_key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            # A user with nothing running or waiting keeps no lock: memory does not grow with users seen.
            self._holders[user_key] -= 1
            if not self._holders[user_key]:
                del self._holders[user_key], self._locks[user_key]

    def busy(self, user_key: str) -> bool:
        """Whether a turn of this user is running or waiting."""
        return user_key in self._holders


class TurnTicket:
    """Decided once, by whichever side comes first: the turn's replies are answered or late.

    The worker claims the answer when its turn is done; the caller gives up at the time budget.
    Both take the lock only to flip the state, never while working.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._late: bool | None = None

    def claim(self) -> bool:
        """Worker: True when the caller still waits for the replies, False when they are late."""
        with self._lock:
            if self._late is None:
                self._late = False
            return not self._late

    def give_up(self) -> bool:
        """Caller: True when the turn is now late, False when the worker already claimed it (it is saving)."""
        with self._lock:
            if self._late is None:
                self._late = True
            return self._late
