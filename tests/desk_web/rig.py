"""One server as deployed (web chat, /desk, Telegram, Zalo) on a background event loop, pointed at the
fake Telegram Bot API and the fake Zalo Open API on the same loop, for tests driven by a real browser."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web

from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_zalo import FakeZalo

T = TypeVar("T")


class DeskRig:
    def __init__(self, assistant: Any, settings: Any):
        self.assistant = assistant
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="desk-rig", daemon=True)
        self.telegram = FakeTelegram()
        self.zalo = FakeZalo()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def run(self, coroutine: Awaitable[T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, fn: Callable[[], T]) -> T:
        """Runs a plain function on the rig's loop (the fakes' state belongs to it)."""

        async def wrapped() -> T:
            return fn()

        return self.run(wrapped())

    def __enter__(self) -> DeskRig:
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        from bot.channels import telegram, zalo
        from bot.web import create_app

        await self.telegram.start()
        await self.zalo.start()
        settings = dataclasses.replace(
            self.settings, telegram_bot_token=self.telegram.token, telegram_api_base_url=self.telegram.base_url,
            **self.zalo.settings_values(),
        )
        app = create_app(self.assistant)
        telegram.attach(app, self.assistant, settings)
        zalo.attach(app, self.assistant, settings)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        self.zalo.webhook_url = f"http://127.0.0.1:{port}{zalo.WEBHOOK_PATH}"
        await asyncio.wait_for(app[telegram.TELEGRAM].started.wait(), 20)

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            await self.telegram.close()
            await self.zalo.close()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # what citizens do on Telegram and Zalo, and what reaches them

    def telegram_says(self, chat_id: int, text: str) -> None:
        self.call(lambda: self.telegram.message(chat_id, text))

    def zalo_says(self, user_id: str, text: str) -> None:
        assert self.run(self.zalo.user_sends_text(user_id, text)) == 200

    def telegram_texts(self, chat_id: int) -> list[str]:
        return self.call(lambda: [m.text for m in self.telegram.messages_to(chat_id)])

    def zalo_texts(self, user_id: str) -> list[str]:
        return self.call(lambda: [m.get("text", "") for m in self.zalo.messages_to(user_id)])


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
