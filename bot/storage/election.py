"""Elects the one worker that may do a thing only one may do (Telegram's long polling), through the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.storage.db import Store

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=30)


class Election:
    """Runs `start` once this worker holds the lease `name`, `stop` when it loses it, renewing meanwhile.

    Every worker runs one; the lease row (channel_state) says who holds it until when. The holder renews
    it every third of its lifetime; when a holder dies, another worker takes over once the lease expires
    (at most LEASE_TTL); a clean stop gives it up at once. A database that cannot be reached counts as
    losing the lease: better nobody polls for a while than two.
    """

    def __init__(self, store: Store, name: str, ttl: timedelta | None = None):
        self.store = store
        self.name = name
        self.ttl = ttl or LEASE_TTL
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.holding = False
        self._task: asyncio.Task[None] | None = None

    def start(self, on_elected: Callable[[], Awaitable[None]], on_deposed: Callable[[], Awaitable[None]]) -> None:
        self._task = asyncio.create_task(self._run(on_elected, on_deposed), name=f"election-{self.name}")

    async def _claim(self) -> bool:
        try:
            return await asyncio.to_thread(self.store.claim_lease, self.name, self.owner, self.ttl)
        except Exception as e:  # noqa: BLE001 - any database failure means: not the holder now
            log.warning("election %s: cannot reach the database (%s); not holding the lease", self.name, e)
            return False

    async def _run(self, on_elected: Callable[[], Awaitable[None]], on_deposed: Callable[[], Awaitable[None]]) -> None:
        while True:
            held = await self._claim()
            try:
                if held and not self.holding:
                    self.holding = True
                    log.info("election %s: this worker (%s) holds it", self.name, self.owner)
                    await on_elected()
                elif not held and self.holding:
                    self.holding = False
                    log.warning("election %s: lost it to another worker", self.name)
                    await on_deposed()
            except Exception:  # a failed start is retried at the next round; a bug is logged, never silent
                log.exception("election %s: starting or stopping its work failed", self.name)
                self.holding = False
            await asyncio.sleep(self.ttl.total_seconds() / 3)

    async def stop(self) -> None:
        """Stops campaigning and gives the lease up, so another worker takes over without waiting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.holding:
            self.holding = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.release_lease, self.name, self.owner)
