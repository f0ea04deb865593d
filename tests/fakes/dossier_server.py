"""A server process for the kill -9 tests: the push endpoint and the outbox, as `python -m bot serve` wires them,
without the NLU model. Notices are "sent" by appending a line to SENT_LOG (one line per message).

Environment: DATABASE_URL, DOSSIER_PROVIDERS_FILE, the push source's secret, PORT_FILE (the port is
written there once listening), SENT_LOG, HANG_SENDS=1 (the sender never returns: the process is
killed mid-send), OUTBOX_LEASE_SECONDS.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from bot.outbox import SENT, Delivery
from bot.runtime import build_dossier_service
from bot.settings import Settings
from bot.storage import Store
from bot.web.dossier_events import register_dossier_events


class FileSender:
    def __init__(self, path: Path, hang: bool):
        self.path = path
        self.hang = hang

    async def send(self, user_id: str, replies: list, **_: object) -> Delivery:
        if self.hang:
            await asyncio.sleep(3600)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(f"{user_id}\t{replies[0].text.splitlines()[0]}\n")
        return Delivery(SENT, via="file", message_id=user_id)


async def main() -> None:
    settings = Settings.load(env_file=None)
    store = Store.open(settings.database_url_resolved)
    service = build_dossier_service(settings, store)
    service.dispatcher.lease = timedelta(seconds=float(os.environ.get("OUTBOX_LEASE_SECONDS", "300")))
    service.dispatcher.register("telegram", FileSender(Path(os.environ["SENT_LOG"]), os.environ.get("HANG_SENDS") == "1"))
    app = web.Application()
    register_dossier_events(app, service)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    Path(os.environ["PORT_FILE"]).write_text(str(port), encoding="utf-8")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
