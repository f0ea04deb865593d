"""A local stand-in for a one-door system's agency interface (TraCuuHoSo), on 127.0.0.1 in its own thread.

POST /login {username, password} -> {error_code: 0, session} (wrong credentials: error_code 1).
POST /service {session, madonvi, service, mahoso} -> checked as the interface works: a session from
/login (else error_code 401), service "TraCuuHoSo", a madonvi, a mahoso; {error_code: 0, result}
for a known dossier, error_code 4 when unknown. Requests that break a rule are kept in `violations`.
Controls: `down` (HTTP 503), `slow` (seconds before answering), `expire_sessions()`, `dossiers`.
It runs in a thread with its own event loop because the provider under test is synchronous.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

USER, PASSWORD = "motcua", "mat-khau-thu"


class FakeOneDoor:
    def __init__(self) -> None:
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.sessions: set[str] = set()
        self.logins = 0
        self.calls = 0
        self.violations: list[str] = []
        self.down = False
        self.slow = 0.0
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @classmethod
    @contextmanager
    def serving(cls, dossiers: dict[str, dict[str, Any]]) -> Iterator[FakeOneDoor]:
        """A started fake that knows these dossiers (copies), stopped after."""
        fake = cls().start()
        fake.dossiers = {code: dict(dossier) for code, dossier in dossiers.items()}
        try:
            yield fake
        finally:
            fake.stop()

    def start(self) -> FakeOneDoor:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/login", self._login)
        app.router.add_post("/service", self._service)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def environ(self) -> dict[str, str]:
        return {"ONEDOOR_EXAMPLE_URL": self.url, "ONEDOOR_EXAMPLE_USER": USER, "ONEDOOR_EXAMPLE_PASSWORD": PASSWORD}

    async def _pause(self) -> web.Response | None:
        if self.slow:
            await asyncio.sleep(self.slow)
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        return None

    async def _login(self, request: web.Request) -> web.Response:
        self.logins += 1
        failed = await self._pause()
        if failed is not None:
            return failed
        body = await request.json()
        if body.get("username") != USER or body.get("password") != PASSWORD:
            return web.json_response({"error_code": 1, "message": "Sai tài khoản"})
        session = uuid.uuid4().hex
        self.sessions.add(session)
        return web.json_response({"error_code": 0, "session": session})

    async def _service(self, request: web.Request) -> web.Response:
        self.calls += 1
        failed = await self._pause()
        if failed is not None:
            return failed
        if request.content_type != "application/json":
            self.violations.append(f"Content-Type {request.content_type}")
        body = await request.json()
        if body.get("session") not in self.sessions:
            return web.json_response({"error_code": 401, "message": "Phiên làm việc hết hạn"})
        if body.get("service") != "TraCuuHoSo" or not body.get("madonvi") or not body.get("mahoso"):
            self.violations.append(f"bad request {sorted(body)}")
            return web.json_response({"error_code": 2, "message": "Thiếu tham số"})
        result = self.dossiers.get(str(body["mahoso"]))
        if result is None:
            return web.json_response({"error_code": 4, "message": "Không tìm thấy hồ sơ"})
        return web.json_response({"error_code": 0, "result": result})
