"""A local stand-in for Zalo's template messages (ZNS), beside FakeZalo (fake_zalo.py).

POST /message/template, checked as Zalo documents it (see `check_template_request`):
- the OA access token in the `access_token` header (one FakeZalo issued and not expired);
- Content-Type application/json, a JSON object with only phone, template_id, template_data,
  tracking_id (and the optional mode);
- phone in international form without "+": "84" then 9 digits (no leading 0);
- template_id a template the OA has (registered with `add_template`), template_data an object
  with exactly that template's parameters, each a string no longer than its limit (a code or a
  status: 30 characters);
- tracking_id a string of at most 48 characters.
A request that breaks a rule is recorded in `violations` and answered with error -201 (HTTP 200,
as Zalo answers errors). A phone with no Zalo account gets -118. Accepted messages answer
{error: 0, data: {msg_id, sent_time, quota}}; `receipt_event(msg_id)` is the `user_received_message`
webhook event Zalo sends when the phone has received it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.channels.fake_zalo import FakeZalo

ALLOWED_KEYS = {"phone", "template_id", "template_data", "tracking_id", "mode"}
PHONE = re.compile(r"84[1-9]\d{8}")
MAX_TRACKING_ID = 48
NO_ZALO_ACCOUNT = -118


@dataclass
class TemplateMessage:
    phone: str
    template_id: str
    template_data: dict[str, str]
    tracking_id: str
    msg_id: str


def check_template_request(body: Any, templates: dict[str, dict[str, int]]) -> list[str]:
    """What is wrong with a ZNS request body, by Zalo's documented shape and limits."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [f"unknown field {k!r}" for k in sorted(set(body) - ALLOWED_KEYS)]
    phone = body.get("phone")
    if not isinstance(phone, str) or not PHONE.fullmatch(phone):
        problems.append(f"phone {phone!r} is not 84 followed by 9 digits")
    template_id = body.get("template_id")
    params = templates.get(str(template_id)) if isinstance(template_id, str) else None
    if params is None:
        problems.append(f"template_id {template_id!r} is not a template of this OA (a string)")
    data = body.get("template_data")
    if not isinstance(data, dict):
        problems.append("template_data is not an object")
    elif params is not None:
        missing, unknown = set(params) - set(data), set(data) - set(params)
        if missing:
            problems.append(f"template_data lacks {sorted(missing)}")
        if unknown:
            problems.append(f"template_data has parameters the template does not: {sorted(unknown)}")
        for name, value in data.items():
            if not isinstance(value, str):
                problems.append(f"template_data.{name} is not a string")
            elif name in params and len(value) > params[name]:
                problems.append(f"template_data.{name} is {len(value)} characters, at most {params[name]}")
    tracking = body.get("tracking_id")
    if tracking is not None and (not isinstance(tracking, str) or len(tracking) > MAX_TRACKING_ID):
        problems.append(f"tracking_id must be a string of at most {MAX_TRACKING_ID} characters")
    return problems


class FakeZns:
    """ZNS on 127.0.0.1 (business.openapi.zalo.me): FakeZalo's tokens, its own templates and phones with Zalo."""

    def __init__(self, zalo: FakeZalo):
        self.zalo = zalo
        self.templates: dict[str, dict[str, int]] = {}
        self.phones_with_zalo: set[str] = set()
        self.sent: list[TemplateMessage] = []
        self.violations: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeZns:
        app = web.Application()
        app.router.add_post("/message/template", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add_template(self, template_id: str, params: dict[str, int]) -> None:
        self.templates[template_id] = params

    def receipt_event(self, msg_id: str) -> dict[str, Any]:
        """The `user_received_message` event Zalo posts to the OA's webhook once the phone has the message."""
        return {
            "app_id": self.zalo.app_id, "event_name": "user_received_message",
            "sender": {"id": self.zalo.oa_id}, "recipient": {"id": "zns-recipient"},
            "message": {"msg_id": msg_id, "delivery_time": str(int(time.time() * 1000))},
            "timestamp": str(int(time.time() * 1000)),
        }

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        if not token or token not in self.zalo.access_tokens:
            return web.json_response({"error": -124, "message": "Access token is invalid"})
        if self.zalo.access_tokens[token] < time.time():
            return web.json_response({"error": -124, "message": "Access token has expired"})
        if request.content_type != "application/json":
            return self._invalid(f"Content-Type {request.content_type!r}, expected application/json")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._invalid("body is not JSON")
        problems = check_template_request(body, self.templates)
        if problems:
            return self._invalid("; ".join(problems))
        if body["phone"] not in self.phones_with_zalo:
            return web.json_response({"error": NO_ZALO_ACCOUNT, "message": "User is not existed"})
        msg_id = uuid.uuid4().hex
        self.sent.append(TemplateMessage(body["phone"], body["template_id"], body["template_data"],
                                         body.get("tracking_id", ""), msg_id))
        return web.json_response({"error": 0, "message": "Success", "data": {
            "msg_id": msg_id, "sent_time": str(int(time.time() * 1000)),
            "quota": {"dailyQuota": "500", "remainingQuota": "499"}}})

    def _invalid(self, reason: str) -> web.Response:
        self.violations.append(reason)
        return web.json_response({"error": -201, "message": f"Parameters are invalid: {reason}"})
