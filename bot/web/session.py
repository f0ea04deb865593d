"""Who is talking on /api/chat: the web page's server-issued session, or a front end's API key.

The web chat never chooses its user: the server gives each browser an unguessable id in a
signed cookie (HttpOnly, SameSite=Strict, Secure when WEB_HTTPS is set), and that id is the
user. Other front ends present `Authorization: Bearer <key>` (API_KEYS); they choose their
own users' ids, which live in their own namespace (channel "api-<front end>").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.settings import ApiKey
from bot.storage import ChannelState, Store
from bot.storage.models import utcnow

COOKIE = "tthc_session"
COOKIE_MAX_AGE = 30 * 24 * 3600  # a returning visitor resumes within a month
_SECRET_ROW = ("web", "session_secret")


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the channel the Assistant is told, the user id in it, what it may read."""

    channel: str
    user_id: str
    may_read_slots: bool = False
    new_session: str = ""  # a cookie value to set on the answer, when the server just issued one


def stored_secret(store: Store) -> str:
    """The signing key kept in channel_state, made on first use (all processes on the database share it)."""
    with store.session() as session:
        row = session.get(ChannelState, _SECRET_ROW)
        if row is not None and row.value:
            return str(row.value)
    secret = secrets.token_urlsafe(32)
    try:
        with store.session() as session, session.begin():
            session.add(ChannelState(channel=_SECRET_ROW[0], key=_SECRET_ROW[1], value=secret, updated_at=utcnow()))
    except IntegrityError:  # another process made it first: use theirs
        return stored_secret(store)
    return secret


class WebSessions:
    """Issues and checks the web chat's session cookies: `<id>.<HMAC-SHA256(id)>`."""

    def __init__(self, secret: str, secure: bool):
        self._key = hashlib.sha256(b"tthc web session\n" + secret.encode()).digest()
        self.secure = secure

    def _mac(self, session_id: str) -> str:
        digest = hmac.new(self._key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def issue(self) -> str:
        session_id = secrets.token_urlsafe(18)
        return f"{session_id}.{self._mac(session_id)}"

    def user_of(self, cookie: str | None) -> str | None:
        """The session id a cookie carries when its signature checks out; None otherwise."""
        if not cookie or len(cookie) > 100:
            return None
        session_id, _, mac = cookie.partition(".")
        if not session_id or not hmac.compare_digest(mac.encode(), self._mac(session_id).encode()):
            return None
        return session_id

    def set_cookie(self, response: web.StreamResponse, value: str) -> None:
        response.set_cookie(COOKIE, value, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="Strict",
                            secure=self.secure)


class ApiKeys:
    """The front ends of API_KEYS, found by key in constant time (every key is compared)."""

    def __init__(self, keys: tuple[ApiKey, ...]):
        self.keys = keys

    def front_end(self, authorization: str) -> ApiKey | None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return None
        found = None
        for key in self.keys:
            if hmac.compare_digest(given.strip().encode(), key.key.encode()):
                found = key
        return found
