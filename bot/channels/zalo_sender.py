"""Sends outbox messages to a Zalo user: a consultation message inside Zalo's interaction window,
else a ZNS template message to the phone the person gave (with consent), else undeliverable.

Inside the window (the person wrote within ZALO_WINDOW_HOURS) the replies go as the channel
renders them; -230/-232 (outside the window after all) falls back to ZNS. ZNS is
POST {ZALO_ZNS_BASE_URL}/message/template {phone: "84…", template_id, template_data, tracking_id}
with the OA access token in the `access_token` header; Zalo answers {error, message, data.msg_id},
and the delivery comes back later as the `user_received_message` webhook event (stored as the
outbox row's receipt, see `record_zalo_receipt`). Zalo's raw error code is kept on every outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update

from bot.assistant import OFFERED
from bot.channels.zalo import CHANNEL, OUT_OF_WINDOW, RATE_LIMITED, TOKEN_ERRORS, ZaloChannel, ZaloError, render
from bot.outbox import HELD, RETRY, SENT, UNDELIVERABLE, Delivery, record_receipt
from bot.storage.models import Conversation, NoticeContact, User, utcnow
from flows.replies import Reply
from knowledge import fold_words

log = logging.getLogger(__name__)

ZNS_PATH = "/message/template"
VIA_ZNS = "zns"
# ZNS answers meaning the phone cannot get template messages (no Zalo account, blocked, invalid number).
ZNS_PERMANENT = frozenset({-108, -118, -119, -139})


class ZaloSender:
    """Outbox sender over the Zalo channel's API client (tokens, rate limits) plus ZNS."""

    def __init__(self, channel: ZaloChannel, window_hours: int, zns_base_url: str, zns_template_id: str):
        self.channel = channel
        self.store = channel.store
        self.window = timedelta(hours=window_hours)
        self.zns_url = zns_base_url.rstrip("/") + ZNS_PATH
        self.zns_template_id = zns_template_id

    def _in_window(self, user_id: str) -> bool:
        """Whether the person wrote within Zalo's window (blocking: called in a thread)."""
        with self.store.session() as session:
            seen = session.execute(select(User.last_seen_at).where(
                User.channel == CHANNEL, User.external_id == user_id)).scalar_one_or_none()
        return seen is not None and utcnow() - seen < self.window

    async def send(self, user_id: str, replies: list[Reply], template: dict[str, str] | None = None,
                   **_: Any) -> Delivery:
        reason = "out_of_window"
        if await asyncio.to_thread(self._in_window, user_id):
            more = self.channel.assistant.engine.responses.text("zalo_more_choices")
            message_id = ""
            try:
                for reply in replies:
                    for message in render(reply, more):
                        message_id = await self.channel.api.send(user_id, message)
            except ZaloError as e:
                if e.code not in OUT_OF_WINDOW:
                    transient = e.code is None or e.code == RATE_LIMITED or e.code in TOKEN_ERRORS
                    return Delivery(RETRY if transient else HELD, via=CHANNEL, error_code=str(e.code), error=str(e))
                reason = str(e.code)
            else:
                await self._remember_buttons(user_id, replies)
                return Delivery(SENT, via=CHANNEL, message_id=message_id)
        return await self._zns(user_id, template, reason)

    async def _remember_buttons(self, user_id: str, replies: list[Reply]) -> None:
        """Zalo sends a pressed button back as its title: the person's conversation learns the notice's buttons.

        Written as a turn writes, holding the person's turn: in this process (the Assistant's per-person
        order) and, with several workers, their conversation lock, so that a turn running meanwhile keeps
        its own state and the notice's buttons are not overwritten by a state read before them.
        """
        offered = {fold_words(b.title): b.payload for r in replies for b in r.buttons}
        if not offered:
            return
        async with self.channel.assistant.user_turns.hold(f"{CHANNEL}:{user_id}"):
            await asyncio.to_thread(self._merge_offered, user_id, offered)

    def _merge_offered(self, user_id: str, offered: dict[str, str]) -> None:
        """Adds `offered` to the buttons the person's conversation knows, under their conversation lock."""
        with self.store.conversation_lock(CHANNEL, user_id) as held:
            conversation_id, state = held.read(utcnow())
            state[OFFERED] = {**(state.get(OFFERED) or {}), **offered}
            assert held.connection is not None
            # Not ConversationLock.save: that would record a message and count the notice as the person's visit.
            held.connection.execute(update(Conversation).where(Conversation.id == conversation_id).values(flow_state=state))
            if not self.store.locking:
                held.connection.commit()

    def _phone(self, user_id: str) -> str | None:
        with self.store.session() as session:
            contact = session.execute(select(NoticeContact).where(
                NoticeContact.channel == CHANNEL, NoticeContact.user_id == user_id)).scalar_one_or_none()
        return contact.phone if contact is not None and contact.consent_at is not None else None

    async def _zns(self, user_id: str, template: dict[str, str] | None, reason: str) -> Delivery:
        phone = await asyncio.to_thread(self._phone, user_id)
        if phone is None or not template or not self.zns_template_id:
            why = "no phone with consent" if phone is None else "no ZNS template for this message"
            return Delivery(UNDELIVERABLE, via=CHANNEL, error_code=reason, error=f"outside Zalo's window; {why}")
        api = self.channel.api
        body = {"phone": phone, "template_id": self.zns_template_id, "template_data": template,
                "tracking_id": uuid.uuid4().hex}
        for attempt in (1, 2):
            token = await api._current_token()
            assert api.http is not None, "the Zalo channel is not open"
            try:
                async with api.http.post(self.zns_url, json=body, headers={"access_token": token}) as response:
                    if response.status >= 500 or response.status == 429:
                        return Delivery(RETRY, via=VIA_ZNS, error_code=str(response.status), error="ZNS unavailable")
                    answer = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError) as e:
                return Delivery(RETRY, via=VIA_ZNS, error_code="network", error=f"{type(e).__name__}: {e}")
            code = int(answer.get("error", -1)) if isinstance(answer, dict) else -1
            if code == 0:
                data = answer.get("data") or {}
                return Delivery(SENT, via=VIA_ZNS, message_id=str(data.get("msg_id", "")))
            text = str(answer.get("message", "")) if isinstance(answer, dict) else "not JSON"
            if code in (-124, *TOKEN_ERRORS) and attempt == 1 and api.tokens.refresh_token:
                await api.refresh(failed_token=token)
                continue
            outcome = UNDELIVERABLE if code in ZNS_PERMANENT else RETRY if code == RATE_LIMITED else HELD
            return Delivery(outcome, via=VIA_ZNS, error_code=str(code), error=text)
        return Delivery(RETRY, via=VIA_ZNS, error_code="token", error="access token refused twice")


# A receipt can arrive before the sender has recorded Zalo's msg_id: look again a little later.
RECEIPT_RETRIES_S = (0.0, 1.0, 5.0, 30.0)


async def store_receipt(store: Any, event: dict[str, Any]) -> None:
    """Stores a delivery receipt off the event loop, looking again while its message is not yet recorded."""
    for delay in RECEIPT_RETRIES_S:
        await asyncio.sleep(delay)
        try:
            if await asyncio.to_thread(record_zalo_receipt, store, event):
                return
        except Exception:  # noqa: BLE001 - the database away for a moment: the next try may work
            log.exception("zalo: storing a delivery receipt failed")
    log.info("zalo: a delivery receipt matched no message we sent")


def record_zalo_receipt(store: Any, event: dict[str, Any]) -> bool:
    """A `user_received_message` event: the delivery receipt of the outbox message with its msg_id."""
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    msg_id = str((message or {}).get("msg_id") or "")
    if not msg_id:
        return False
    with store.session() as session, session.begin():
        return record_receipt(session, msg_id)
