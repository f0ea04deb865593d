"""POST /api/dossiers/events: one-door systems report a dossier's progress; subscribers are told once.

Body: one event, or {"events": [...]} (at most 100), each in the shape of the portal's
CapNhatTienDoHoSoMC: {"event_id", "MaHoSo", "TrangThai" (1-10 or a portal code),
"ThoiDiemXuLy" (yyyyMMddHHmmss, Vietnam time), "NoiDungXuLy", "PhongBanXuLy"}.
Headers: X-OneDoor-Source: <name in the providers file>, and either
Authorization: Bearer <secret> or X-OneDoor-Timestamp + X-OneDoor-Signature: sha256=<hex HMAC>.

-> 200 {"results": [{"event_id", "result": "applied" | "duplicate" | "older"}]}
-> 400 {"error": "<Vietnamese>", "field": "events[2].TrangThai"}   nothing of the batch is applied
-> 401 / 403 {"error": ...}                                          who is pushing is not proven / not allowed
The batch is applied in one transaction with its notices (bot/outbox.py), then the outbox is woken.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sys
import time
from typing import Any, AsyncIterator

from aiohttp import web
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.dossiers.config import PushSource
from bot.dossiers.events import EventError, apply_event, parse_event
from bot.privacy import mask

log = logging.getLogger(__name__)

PATH = "/api/dossiers/events"
MAX_EVENTS = 100
MAX_SKEW_S = 300


def _refuse(status: int, message: str, field: str | None = None) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def authenticate(source: PushSource, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """None when the request proves it comes from `source`, else why not (for the log)."""
    if source.auth == "bearer":
        given = headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            return "no bearer token"
        return None if hmac.compare_digest(given[7:].encode(), source.secret.encode()) else "wrong bearer token"
    stamp, signature = headers.get("X-OneDoor-Timestamp", ""), headers.get("X-OneDoor-Signature", "")
    if not stamp.isdigit() or not signature.startswith("sha256="):
        return "no X-OneDoor-Timestamp / X-OneDoor-Signature"
    if abs((now or time.time()) - int(stamp)) > MAX_SKEW_S:
        return f"timestamp {stamp} is more than {MAX_SKEW_S} s away (a replay?)"
    expected = hmac.new(source.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(signature[7:], expected) else "bad signature"


def _apply(service: Any, events: list[Any]) -> list[dict[str, str]]:
    store = service.store
    for attempt in (1, 2, 3):
        try:
            with store.session() as session, session.begin():
                return [{"event_id": e.event_id, "result": apply_event(session, e)} for e in events]
        except (IntegrityError, OperationalError):  # a twin applied at the same moment, or a lock: again
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


async def receive_events(request: web.Request) -> web.Response:
    """Checks who pushes, validates the whole batch, applies it once and wakes the outbox."""
    service = request.app[DOSSIER_SERVICE]
    name = request.headers.get("X-OneDoor-Source", "")
    source = service.push_sources.get(name)
    body = await request.read()
    if source is None:
        log.warning("dossier events refused from %s: unknown source %r", request.remote, name[:40])
        return _refuse(401, "Nguồn gửi không được phép (X-OneDoor-Source).", "X-OneDoor-Source")
    problem = authenticate(source, request.headers, body)
    if problem:
        log.warning("dossier events refused from %s (source %s): %s", request.remote, name, problem)
        return _refuse(401, "Không xác thực được nguồn gửi.", "Authorization")
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _refuse(400, "Nội dung gửi lên không phải JSON hợp lệ.", "body")
    items = raw.get("events") if isinstance(raw, dict) and "events" in raw else [raw]
    if not isinstance(items, list) or not items or len(items) > MAX_EVENTS:
        return _refuse(400, f"'events' phải là danh sách từ 1 đến {MAX_EVENTS} sự kiện.", "events")
    try:
        events = [parse_event(source.name, item, f"events[{i}]") for i, item in enumerate(items)]
    except EventError as e:
        return _refuse(400, str(e), e.field)
    for i, event in enumerate(events):
        if not source.may_report(event.code):
            log.warning("dossier events: source %s may not report %s", name, mask(event.code))
            return _refuse(403, "Nguồn này không được báo tình trạng cho mã hồ sơ này.", f"events[{i}].MaHoSo")
    started = time.monotonic()
    results = await asyncio.to_thread(_apply, service, events)
    applied = sum(r["result"] == "applied" for r in results)
    log.info("dossier events from %s: %d applied, %d duplicate/older in %.0f ms", name, applied,
             len(results) - applied, (time.monotonic() - started) * 1000)
    if applied and service.dispatcher is not None:
        service.dispatcher.wake()
    return web.json_response({"results": results})


DOSSIER_SERVICE: web.AppKey[Any] = web.AppKey("dossier_service")


def register_channel_senders(app: web.Application, dispatcher: Any) -> list[str]:
    """A sender for each channel attached to the app (a channel's module is imported once it is attached)."""
    names = []
    if "bot.channels.telegram" in sys.modules:
        from bot.channels.telegram import TELEGRAM
        from bot.channels.telegram_sender import TelegramSender

        if TELEGRAM in app:
            dispatcher.register("telegram", TelegramSender(app[TELEGRAM]))
            names.append("telegram")
    if "bot.channels.zalo" in sys.modules:
        from bot.channels.zalo import ZALO
        from bot.channels.zalo_sender import ZaloSender

        if ZALO in app:
            channel = app[ZALO]
            settings = channel.settings
            dispatcher.register("zalo", ZaloSender(channel, settings.zalo_window_hours, settings.zalo_zns_base_url,
                                                   settings.zalo_zns_template_id))
            names.append("zalo")
    return names


async def _outbox_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Sends what the outbox holds while the app runs (rows left by a previous run included)."""
    service = app[DOSSIER_SERVICE]
    tasks = []
    if service.dispatcher is not None:
        names = register_channel_senders(app, service.dispatcher)
        log.info("outbox on: senders for %s; web chat and others shown at the next visit", ", ".join(names) or "none")
        tasks.append(asyncio.create_task(service.dispatcher.run(), name="outbox"))
    if getattr(service, "poller", None) is not None:
        tasks.append(asyncio.create_task(service.poller.run(), name="dossier-poller"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def register_dossier_events(app: web.Application, service: Any) -> None:
    """The push endpoint and the outbox dispatcher with the channels' senders (Zalo's delivery receipts come
    through its webhook, bot/channels/zalo.py)."""
    if service is None or not hasattr(service, "push_sources"):
        return
    app[DOSSIER_SERVICE] = service
    app.router.add_post(PATH, receive_events)
    app.cleanup_ctx.append(_outbox_lifecycle)
