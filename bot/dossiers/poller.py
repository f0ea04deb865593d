"""Polls the providers that cannot push (HTTP lookup APIs) for the codes people subscribed to.

Each code is looked up every `interval` (with jitter, so workers and codes spread out); a code
whose provider fails waits twice as long after each failure (up to 64 intervals). A change is
applied like a pushed event (bot.dossiers.events.apply_change) with the event id
"<status>@<time>", so a change seen twice notifies once.

With several workers one polls: the one holding the "dossier-poll" lease (bot.storage's leases,
as the retention purge does), renewed before each code, so that a round longer than the lease
keeps it; when that worker stops renewing (stopped, crashed), another takes over once it lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.dossiers.events import apply_change
from bot.privacy import mask
from bot.storage.models import Dossier, DossierSubscription, utcnow
from flows.services import ProviderUnavailable

log = logging.getLogger(__name__)

MAX_BACKOFF_EXPONENT = 6
LEASE = "dossier-poll"
# Rounds are at most a minute apart: a lease of three of them survives a late round, and a worker
# that stops polling is replaced within about three minutes.
LEASE_ROUNDS = 3
MAX_TICK_S = 60.0


class Poller:
    """Polls due subscribed codes of polled providers, in the one worker holding the poll lease."""

    def __init__(self, service, interval: timedelta, jitter: float = 0.2, batch: int = 200,
                 lease_ttl: timedelta | None = None):
        self.service = service
        self.store = service.store
        self.interval = interval
        self.jitter = jitter
        self.batch = batch
        self.owner = f"poll-{os.getpid()}-{secrets.token_hex(4)}"
        self.lease_ttl = lease_ttl or LEASE_ROUNDS * self.tick * (1 + jitter)

    @property
    def tick(self) -> timedelta:
        """The time between two rounds (before jitter)."""
        return min(self.interval, timedelta(seconds=MAX_TICK_S))

    def holds_lease(self, now: datetime) -> bool:
        """Takes or renews the poll lease; False while another worker holds it."""
        return self.store.claim_lease(LEASE, self.owner, self.lease_ttl, now)

    def polled(self, code: str) -> bool:
        provider = self.service.provider_for(code)
        return bool(provider is not None and getattr(provider, "polled", False))

    def due(self, now: datetime) -> list[str]:
        """Subscribed codes of polled providers whose next poll time has come."""
        with self.store.session() as session:
            rows = session.execute(
                select(DossierSubscription.code, DossierSubscription.polled_at, DossierSubscription.poll_failures)
                .where(DossierSubscription.cancelled_at.is_(None))
            ).all()
        codes: dict[str, bool] = {}
        for code, polled_at, failures in rows:
            wait = self.interval * 2 ** min(failures or 0, MAX_BACKOFF_EXPONENT)
            due = polled_at is None or polled_at + wait <= now
            codes[code] = codes.get(code, False) or due
        return [c for c, due in codes.items() if due and self.polled(c)][: self.batch]

    def _mark(self, code: str, now: datetime, failed: bool) -> None:
        with self.store.session() as session, session.begin():
            for sub in session.execute(select(DossierSubscription).where(
                    DossierSubscription.code == code, DossierSubscription.cancelled_at.is_(None))).scalars():
                sub.polled_at = now + timedelta(seconds=random.uniform(0, self.jitter) * self.interval.total_seconds())
                sub.poll_failures = (sub.poll_failures or 0) + 1 if failed else 0

    def poll_code(self, code: str, now: datetime) -> bool:
        """Looks one code up; True when its status changed (notices enqueued)."""
        provider = self.service.provider_for(code)
        try:
            record = provider.lookup(code)
        except ProviderUnavailable as e:
            log.info("dossier poll: %s for %s; backing off", e.reason, mask(code))
            self._mark(code, now, failed=True)
            return False
        changed = False
        if record is not None:
            at = record.history[-1].at if record.history else now
            with self.store.session() as session, session.begin():
                mirror = session.execute(select(Dossier).where(Dossier.code == code)).scalar_one_or_none()
                told = set(session.execute(select(DossierSubscription.last_status).where(
                    DossierSubscription.code == code, DossierSubscription.cancelled_at.is_(None))).scalars())
                if mirror is None and told <= {record.status}:
                    # the first poll after subscribing: remember what people already know, tell nobody
                    session.add(Dossier(code=code, status=record.status, status_at=at, note=record.note,
                                        procedure_name=record.procedure_name, updated_at=now, agency=provider.name[:40]))
                elif told != {record.status}:
                    result = apply_change(session, code, record.status, at, raw_status=record.raw_status,
                                          note=record.note, source=f"poll:{provider.name}"[:40],
                                          event_id=f"{record.status}@{at:%Y%m%d%H%M%S}", now=now)
                    changed = result == "applied"
        self._mark(code, now, failed=False)
        return changed

    def poll_once(self, now: datetime | None = None) -> int:
        """One round, if this worker holds the lease (renewed before each code); answers how many changed."""
        now = now or utcnow()
        if not self.holds_lease(now):
            return 0
        changed = 0
        for n, code in enumerate(self.due(now)):
            if n and not self.holds_lease(now):  # lost in a long round (the database away): leave the rest
                break
            changed += self.poll_code(code, now)
        return changed

    def release(self) -> None:
        """Gives the lease up (a clean stop), so another worker polls without waiting for it to lapse."""
        self.store.release_lease(LEASE, self.owner)

    async def run(self) -> None:
        """Polls until cancelled; provider calls run in a thread, never on the event loop."""
        try:
            while True:
                try:
                    changed = await asyncio.to_thread(self.poll_once)
                    if changed and self.service.dispatcher is not None:
                        self.service.dispatcher.wake()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("dossier poll failed; trying again at the next interval")
                await asyncio.sleep(self.tick.total_seconds() * random.uniform(1 - self.jitter, 1 + self.jitter))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.release)
