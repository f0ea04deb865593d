"""What the dossier flows are given (flows.services.DossierDesk): providers chosen by code prefix,
lookup limits kept in the database, the second factor, subscriptions and the phone consent for ZNS.

Limits are counted from `dossier_lookups` rows, so they hold across workers and restarts; the code
is stored only as a keyed hash and logged masked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import func, select, update

from bot.desk import split_user_key
from bot.privacy import mask
from bot.storage import Store
from bot.storage.models import DossierSubscription, LookupAttempt, NoticeContact, utcnow
from flows.services import DossierProvider, DossierRecord
from nlu.dossier_code import canonical_dossier_code

log = logging.getLogger(__name__)

# How long the second factor, once given, lets the same person see the details again (a notice's button).
VERIFIED_FOR = timedelta(hours=24)
# Outcomes that count towards a limit (a refused lookup does not, or a person would stay locked out).
COUNTED = ("found", "not_found", "unavailable", "digits_wrong")


@dataclass(frozen=True)
class Route:
    """A provider and the code prefixes (agency codes) it answers for; "*" answers every code."""

    prefixes: tuple[str, ...]
    provider: DossierProvider

    def serves(self, code: str) -> bool:
        return any(p == "*" or code.startswith(p.upper()) for p in self.prefixes)


@dataclass(frozen=True)
class LookupLimits:
    per_user: int = 20  # lookups by one person per window
    per_code: int = 10  # wrong 4 digits for one code, by anyone, per window (guessing the second factor)
    window: timedelta = timedelta(hours=1)


class DossierService:
    """Routes lookups to providers and keeps limits, verification and subscriptions in the database."""

    def __init__(
        self, store: Store, routes: Sequence[Route], limits: LookupLimits = LookupLimits(),
        hash_key: str = "", portal_lookup_url: str = "", phone_cipher: Any = None,
        phone_channels: Sequence[str] = ("zalo",), clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.routes = list(routes)
        self.limits = limits
        self.hash_key = (hash_key or "dossier-lookups").encode()
        self.portal_lookup_url = portal_lookup_url
        self.phone_cipher = phone_cipher
        self.phone_channels = tuple(phone_channels)
        self.clock = clock
        self.push_sources: dict[str, Any] = {}  # name -> bot.dossiers.config.PushSource
        self.dispatcher: Any = None  # bot.outbox.Dispatcher, woken when a pushed change enqueues notices
        self.poller: Any = None  # bot.dossiers.poller.Poller, when a provider must be polled

    # -- lookups

    def provider_for(self, code: str) -> DossierProvider | None:
        return next((r.provider for r in self.routes if r.serves(code)), None)

    def lookup(self, code: str) -> DossierRecord | None:
        """The provider for the code's prefix answers; ProviderUnavailable when it cannot."""
        canonical = canonical_dossier_code(code) or code.strip().upper()
        provider = self.provider_for(canonical)
        if provider is None:
            return None
        record = provider.lookup(canonical)
        if record is not None and not record.lookup_url and self.portal_lookup_url:
            from dataclasses import replace

            record = replace(record, lookup_url=self.portal_lookup_url)
        return record

    def suggest(self, code: str) -> list[str]:
        """Known codes one character away, from the providers that can search."""
        canonical = canonical_dossier_code(code) or code.strip().upper()
        found: list[str] = []
        for route in self.routes:
            search = getattr(route.provider, "suggest", None)
            if search is not None and getattr(route.provider, "can_search", False):
                found.extend(c for c in search(canonical) if route.serves(c))
        return sorted(set(found))

    def code_hash(self, code: str) -> str:
        canonical = canonical_dossier_code(code) or code.strip().upper()
        return hmac.new(self.hash_key, canonical.encode(), hashlib.sha256).hexdigest()[:32]

    def _count(self, *conditions: Any) -> int:
        since = self.clock() - self.limits.window
        with self.store.session() as session:
            return int(session.execute(
                select(func.count()).select_from(LookupAttempt).where(LookupAttempt.at >= since, *conditions)
            ).scalar_one())

    def allow_lookup(self, user_key: str, code: str) -> bool:
        """False (and a "refused" row) when the person is over their lookup limit in the window."""
        done = self._count(LookupAttempt.user_key == user_key, LookupAttempt.outcome.in_(COUNTED))
        if done < self.limits.per_user:
            return True
        self._refused(user_key, code, f"{done} lookups by the user")
        return False

    def allow_digits(self, user_key: str, code: str) -> bool:
        """False when this code's 4 digits were guessed wrong too often in the window, by anyone."""
        wrong = self._count(LookupAttempt.code_hash == self.code_hash(code), LookupAttempt.outcome == "digits_wrong")
        if wrong < self.limits.per_code:
            return True
        self._refused(user_key, code, f"{wrong} wrong second factors for the code")
        return False

    def _refused(self, user_key: str, code: str, why: str) -> None:
        with self.store.session() as session, session.begin():
            session.add(LookupAttempt(user_key=user_key[:160], code_hash=self.code_hash(code), outcome="refused",
                                      at=self.clock()))
        log.warning("dossier lookup refused: user=%s code=%s (%s in %s)", user_key, mask(code), why, self.limits.window)

    def retry_after_minutes(self) -> int:
        return max(1, int(self.limits.window.total_seconds() // 60))

    def record_lookup(self, user_key: str, code: str, outcome: str) -> None:
        """Logs the lookup with the code masked, and counts it for the limits."""
        with self.store.session() as session, session.begin():
            session.add(LookupAttempt(user_key=user_key[:160], code_hash=self.code_hash(code), outcome=outcome[:20],
                                      at=self.clock()))
        log.info("dossier lookup: user=%s code=%s outcome=%s", user_key, mask(code), outcome)

    def is_verified(self, user_key: str, code: str) -> bool:
        with self.store.session() as session:
            return session.execute(
                select(LookupAttempt.id).where(
                    LookupAttempt.user_key == user_key, LookupAttempt.code_hash == self.code_hash(code),
                    LookupAttempt.outcome == "verified", LookupAttempt.at >= self.clock() - VERIFIED_FOR,
                ).limit(1)
            ).first() is not None

    # -- subscriptions

    def subscribe(self, user_key: str, code: str, status: str) -> bool:
        """Subscribes the person on their channel; False when they already were."""
        channel, user_id = split_user_key(user_key)
        now = self.clock()
        with self.store.session() as session, session.begin():
            row = session.execute(select(DossierSubscription).where(
                DossierSubscription.channel == channel, DossierSubscription.user_id == user_id,
                DossierSubscription.code == code)).scalar_one_or_none()
            if row is not None and row.cancelled_at is None:
                return False
            if row is None:
                session.add(DossierSubscription(channel=channel, user_id=user_id, code=code, created_at=now,
                                                last_status=status, poll_failures=0))
            else:
                row.cancelled_at, row.created_at, row.last_status = None, now, status
        log.info("dossier subscription: user=%s code=%s", user_key, mask(code))
        return True

    def unsubscribe(self, user_key: str, code: str | None = None) -> int:
        """Cancels the person's subscription to `code`, or all of theirs; answers how many."""
        channel, user_id = split_user_key(user_key)
        conditions = [DossierSubscription.channel == channel, DossierSubscription.user_id == user_id,
                      DossierSubscription.cancelled_at.is_(None)]
        if code:
            conditions.append(DossierSubscription.code == (canonical_dossier_code(code) or code))
        with self.store.session() as session, session.begin():
            result = session.execute(update(DossierSubscription).where(*conditions).values(cancelled_at=self.clock()))
            return int(result.rowcount or 0)

    # -- phone and consent for template messages (Zalo ZNS)

    def needs_phone(self, user_key: str) -> bool:
        channel, user_id = split_user_key(user_key)
        if channel not in self.phone_channels:
            return False
        with self.store.session() as session:
            row = session.execute(select(NoticeContact).where(
                NoticeContact.channel == channel, NoticeContact.user_id == user_id)).scalar_one_or_none()
        return row is None or row.consent_at is None

    def save_phone(self, user_key: str, phone: str) -> None:
        """Stores the phone (84…, encrypted when a key is set) with the person's consent, now."""
        channel, user_id = split_user_key(user_key)
        stored = self.phone_cipher.encrypt(phone) if self.phone_cipher is not None else phone
        now = self.clock()
        with self.store.session() as session, session.begin():
            row = session.execute(select(NoticeContact).where(
                NoticeContact.channel == channel, NoticeContact.user_id == user_id)).scalar_one_or_none()
            if row is None:
                session.add(NoticeContact(channel=channel, user_id=user_id, phone=stored, consent_at=now))
            else:
                row.phone, row.consent_at = stored, now
