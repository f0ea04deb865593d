"""Notice latency: a one-door system pushes a status change -> each subscriber's notice handed to its channel.

    .venv/bin/python bench/notice_latency.py [--subscribers 50] [--rounds 10]

Serves the real push endpoint and outbox dispatcher (bot/web/dossier_events.py, bot/outbox.py) on
127.0.0.1 over a temporary SQLite database; the channel sender only records the time (the network
to Telegram/Zalo is not measured here: see tests/channels/test_dossier_notices.py for that, ~0.4 s).
Prints and writes bench/results/notice_latency.json: push acknowledged, first and last notice sent
(p50 / p95 / max over the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.dossiers import LocalDossierProvider, save_dossiers  # noqa: E402
from bot.dossiers.config import PushSource  # noqa: E402
from bot.dossiers.service import DossierService, Route  # noqa: E402
from bot.outbox import Delivery, Dispatcher  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.web.dossier_events import PATH, register_dossier_events  # noqa: E402
from flows.services import DossierRecord  # noqa: E402

CODE = "000.00.19.H12-261120-0007"
TOKEN = "bench-token-0123456789abcdef"
STATUSES = [4, 5, 4, 6, 4, 9, 4, 5, 4, 9, 4, 5]


class Clocked:
    def __init__(self) -> None:
        self.times: list[float] = []

    async def send(self, user_id: str, replies: list, **_: object) -> Delivery:
        self.times.append(time.monotonic())
        return Delivery("sent", via="bench")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(subscribers: int, rounds: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="notice-bench-"))
    store = Store.open(f"sqlite:///{folder / 'bench.db'}")
    save_dossiers(store, [DossierRecord(CODE, "received", "Đăng ký tạm trú", None, date(2026, 11, 20))])
    service = DossierService(store, [Route(("*",), LocalDossierProvider(store))])
    service.push_sources = {"office": PushSource("office", "bearer", TOKEN, ("*",))}
    service.dispatcher = Dispatcher(store, interval=2.0, batch=50)
    sender = Clocked()
    service.dispatcher.register("telegram", sender)
    for n in range(subscribers):
        service.subscribe(f"telegram:{n}", CODE, "received")
    app = web.Application()
    register_dossier_events(app, service)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}{PATH}"  # type: ignore[union-attr]
    acks, firsts, lasts = [], [], []
    async with aiohttp.ClientSession() as http:
        for r in range(rounds):
            sender.times.clear()
            event = {"event_id": f"b{r}", "MaHoSo": CODE, "TrangThai": STATUSES[r % len(STATUSES)],
                     "ThoiDiemXuLy": f"202612{1 + r // 24:02d}{r % 24:02d}0000"}
            started = time.monotonic()
            async with http.post(url, json=event, headers={"X-OneDoor-Source": "office",
                                                           "Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 200, await response.text()
            acks.append(time.monotonic() - started)
            deadline = time.monotonic() + 30
            while len(sender.times) < subscribers and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
            firsts.append(min(sender.times) - started)
            lasts.append(max(sender.times) - started)
    await runner.cleanup()

    def summary(values: list[float]) -> dict:
        return {"p50_ms": round(statistics.median(values) * 1000, 1), "p95_ms": round(pct(values, 0.95) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1)}

    return {"subscribers": subscribers, "rounds": rounds, "cpus": os.cpu_count(), "ack": summary(acks),
            "first_notice": summary(firsts), "last_notice": summary(lasts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "notice_latency.json"))
    args = parser.parse_args()
    result = asyncio.run(run(args.subscribers, args.rounds))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
