"""Desk accounts (admin, staff, volunteer): created, invited and disabled from the command line,
signed in with argon2id-hashed passwords, locked after repeated failures; every step audited."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage import Store
from bot.storage.models import DeskAccount, DeskAudit, utcnow

log = logging.getLogger(__name__)

ROLES = ("admin", "staff", "volunteer")
MIN_PASSWORD = 10
INVITE_VALID = timedelta(days=3)
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A desk account cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class DeskUser:
    """Who is signed in, as the desk pages see them."""

    id: int
    username: str
    name: str
    role: str

    @property
    def can_answer(self) -> bool:
        return self.role in ("admin", "staff")


def _view(account: DeskAccount) -> DeskUser:
    return DeskUser(account.id, account.username, account.name or account.username, account.role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(session: Session, user: DeskUser | None, action: str, detail: str = "", username: str = "",
          now: datetime | None = None) -> None:
    """One line of the audit log, in the caller's transaction (the action and its record go together)."""
    session.add(DeskAudit(account_id=user.id if user else None, username=(user.username if user else username)[:64],
                          action=action[:40], detail=detail[:1000], at=now or utcnow()))


class Accounts:
    """Desk accounts in the database."""

    def __init__(self, store: Store, lockout_attempts: int = 5, lockout: timedelta = timedelta(minutes=15),
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.lockout_attempts = lockout_attempts
        self.lockout = lockout
        self.clock = clock

    def add(self, username: str, role: str, password: str, name: str = "") -> DeskUser:
        """A new active account with a password."""
        self._check_password(password)
        with self.store.session() as session, session.begin():
            account = self._new(session, username, role, name)
            account.password_hash = _hasher.hash(password)
            audit(session, None, "account_added", f"{account.username} ({role})", username="cli")
            return _view(account)

    def invite(self, username: str, role: str, name: str = "") -> str:
        """A new account without a password; answers a one-time token to set it (valid 3 days)."""
        token = secrets.token_urlsafe(24)
        with self.store.session() as session, session.begin():
            account = self._new(session, username, role, name)
            account.invite_hash = _token_hash(token)
            account.invite_expires_at = self.clock() + INVITE_VALID
            audit(session, None, "account_invited", f"{account.username} ({role})", username="cli")
        return token

    def accept_invite(self, token: str, password: str) -> DeskUser:
        """Sets the password of an invited account; the token then no longer works."""
        self._check_password(password)
        now = self.clock()
        with self.store.session() as session, session.begin():
            account = session.execute(
                select(DeskAccount).where(DeskAccount.invite_hash == _token_hash(token))
            ).scalar_one_or_none()
            if account is None or not account.active or (account.invite_expires_at or now) < now:
                raise AccountError("invite")
            account.password_hash = _hasher.hash(password)
            account.invite_hash = None
            account.invite_expires_at = None
            audit(session, _view(account), "invite_accepted", now=now)
            return _view(account)

    def disable(self, username: str) -> None:
        with self.store.session() as session, session.begin():
            account = self._get(session, username)
            if account is None:
                raise AccountError(f"no desk account {username!r}")
            account.active = False
            audit(session, None, "account_disabled", account.username, username="cli")

    def overview(self) -> list[tuple[DeskUser, bool]]:
        with self.store.session() as session:
            rows = session.execute(select(DeskAccount).order_by(DeskAccount.username)).scalars().all()
            return [(_view(a), bool(a.active)) for a in rows]

    def get(self, account_id: int) -> DeskUser | None:
        """The active account with this id (sessions refer to it; a disabled one signs out at once)."""
        with self.store.session() as session:
            account = session.get(DeskAccount, account_id)
            return _view(account) if account is not None and account.active else None

    def authenticate(self, username: str, password: str) -> tuple[DeskUser | None, str]:
        """(user, "ok") or (None, "bad" | "locked"); failures count towards a lockout, all are audited."""
        now = self.clock()
        with self.store.session() as session, session.begin():
            account = self._get(session, username)
            if account is None or not account.active or not account.password_hash:
                _verify(_DUMMY_HASH, password)
                audit(session, None, "sign_in_failed", "unknown or disabled account", username=username, now=now)
                return None, "bad"
            if account.locked_until is not None and account.locked_until > now:
                audit(session, _view(account), "sign_in_locked", now=now)
                return None, "locked"
            if not _verify(account.password_hash, password):
                account.failed_logins += 1
                detail = f"failure {account.failed_logins}"
                if account.failed_logins >= self.lockout_attempts:
                    account.locked_until = now + self.lockout
                    account.failed_logins = 0
                    detail += f"; locked until {account.locked_until:%H:%M}"
                audit(session, _view(account), "sign_in_failed", detail, now=now)
                return None, "locked" if account.locked_until and account.locked_until > now else "bad"
            account.failed_logins = 0
            account.locked_until = None
            account.last_login_at = now
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            audit(session, _view(account), "sign_in", now=now)
            return _view(account), "ok"

    def _new(self, session: Session, username: str, role: str, name: str) -> DeskAccount:
        username = username.strip().lower()
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise AccountError(f"username {username!r}: 1-64 letters, digits, '.', '_' or '-'")
        if self._get(session, username) is not None:
            raise AccountError(f"desk account {username!r} already exists")
        account = DeskAccount(username=username, name=name.strip()[:120], role=role, active=True, failed_logins=0,
                              created_at=self.clock())
        session.add(account)
        session.flush()
        return account

    @staticmethod
    def _get(session: Session, username: str) -> DeskAccount | None:
        return session.execute(
            select(DeskAccount).where(DeskAccount.username == username.strip().lower())
        ).scalar_one_or_none()

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password must be at least {MIN_PASSWORD} characters")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
