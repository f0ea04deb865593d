"""Load test over loopback: the assistant's /api/chat and Zalo webhook against bare Rasa parse, same model.

For each database (SQLite, PostgreSQL) and number of workers, starts `python -m bot serve` (WORKERS=N),
a fake Zalo Open API (tests/channels/fake_zalo.py) and the bare-parse server (bench/bare_parse.py), then:
  saturation: U users with no pause, M messages each, to /api/chat and to bare /model/parse, while a
              Zalo sender posts signed webhooks (the time to Zalo's 200 is what it measures);
  paced:      U users with ~P s (0.5P..1.5P) between messages, to /api/chat.
Prints a table and writes JSON (p50/p95/p99 ms, throughput, errors, ratio to bare Rasa, server RSS).
Every request has a timeout and every phase a message count; nothing leaves 127.0.0.1.

  python bench/load.py                        # the README's table: 1 and 2 workers, SQLite and PostgreSQL
  python bench/load.py --db sqlite --workers 1 --paced-users 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.channels.fake_zalo import FakeZalo  # noqa: E402

TIMEOUT = aiohttp.ClientTimeout(total=30)
QUESTIONS = [
    "đăng ký khai sinh cần giấy tờ gì", "lệ phí cấp hộ chiếu bao nhiêu", "xin chào", "làm căn cước ở đâu",
    "thủ tục đăng ký kết hôn", "tra cứu hồ sơ", "đổi giấy phép lái xe mất bao lâu", "cảm ơn",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(samples)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1] * 1000, 1)}


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants: what a request costs, whatever
    else the shared machine does (throughput is not, on a machine shared with other work)."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


class Cpu:
    """CPU spent by the server (and PostgreSQL's processes, when there are) from now on."""

    def __init__(self, server_pid: int, pg: Any) -> None:
        self.server_pid = server_pid
        self.pg_pid = pg.process.pid if pg is not None and pg.process is not None else None
        self.server = cpu_seconds(server_pid)
        self.database = cpu_seconds(self.pg_pid) if self.pg_pid else 0.0

    def per(self, requests: int) -> dict[str, float]:
        """CPU ms per request since this was made: the server's, and the database server's."""
        n = max(requests, 1)
        spent = {"server_cpu_ms": round((cpu_seconds(self.server_pid) - self.server) * 1000 / n, 2)}
        if self.pg_pid:
            spent["postgres_cpu_ms"] = round((cpu_seconds(self.pg_pid) - self.database) * 1000 / n, 2)
        return spent


# The load is a front end of its own (an API key), so simulated users name themselves as a kiosk would.
KEY = secrets.token_urlsafe(32)
HEADERS = {"Authorization": f"Bearer {KEY}"}


async def wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2), headers=HEADERS) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode} before it was ready")
            try:
                async with http.post(url, json={"user": "ready", "text": "xin chào"}) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"{url} not ready in time")


class Phase:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.started = time.monotonic()
        self.ended = self.started

    def result(self) -> dict[str, Any]:
        seconds = max(self.ended - self.started, 1e-9)
        return {"requests": len(self.latencies) + self.errors, "errors": self.errors,
                "throughput": round(len(self.latencies) / seconds, 1), **percentiles(self.latencies)}


async def users(url: str, body: Any, count: int, messages: int, pause: float, limit: float) -> Phase:
    """`count` users, `messages` each, `pause` s apart (jittered); stops early at `limit` seconds."""
    phase = Phase()
    deadline = phase.started + limit
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a connection per request: spread over workers
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector, headers=HEADERS) as http:

        async def user(number: int) -> None:
            rng = random.Random(number)
            if pause:
                await asyncio.sleep(rng.uniform(0, pause))
            for m in range(messages):
                if time.monotonic() > deadline:
                    return
                started = time.monotonic()
                try:
                    async with http.post(url, json=body(number, m)) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                if ok:
                    phase.latencies.append(time.monotonic() - started)
                else:
                    phase.errors += 1
                if pause:
                    await asyncio.sleep(rng.uniform(0.5 * pause, 1.5 * pause))

        await asyncio.gather(*(user(n) for n in range(count)))
    phase.ended = time.monotonic()
    return phase


async def zalo_sender(fake: FakeZalo, stop: asyncio.Event, per_second: float) -> Phase:
    """Posts signed Zalo events from many people while the chat load runs; times each 200."""
    phase = Phase()
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        try:
            status = await asyncio.wait_for(fake.user_sends_text(f"zalo-{n % 50}", QUESTIONS[n % len(QUESTIONS)]), 10)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = 0
        if status == 200:
            phase.latencies.append(time.monotonic() - started)
        else:
            phase.errors += 1
        await asyncio.sleep(1 / per_second)
    phase.ended = time.monotonic()
    return phase


async def run_config(db: str, workers: int, args: argparse.Namespace, pg: Any) -> dict[str, Any]:
    fake = await FakeZalo().start()
    port = free_port()
    url = pg.create_database(f"load_{workers}_{int(time.time())}") if db == "postgresql" else \
        f"sqlite:///{tempfile.mkdtemp(prefix='load-')}/load.db"
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1", "WORKERS": str(workers),
           "LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore", "TELEGRAM_BOT_TOKEN": "", "API_KEYS": f"load:{KEY}",
           **{k.upper(): v for k, v in fake.settings_values().items()}}
    env.pop("BOT_WORKER", None)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env)
    fake.webhook_url = f"http://127.0.0.1:{port}/webhooks/zalo"
    chat = f"http://127.0.0.1:{port}/api/chat"
    try:
        await wait_ready(chat, server, time.monotonic() + 180)
        await users(chat, lambda u, m: {"user": f"warm{u}", "text": QUESTIONS[m % 8]}, 8, 3, 0, 30)
        result: dict[str, Any] = {"db": db, "workers": workers}
        stop = asyncio.Event()
        zalo = asyncio.create_task(zalo_sender(fake, stop, args.zalo_rate))
        cpu = Cpu(server.pid, pg if db == "postgresql" else None)
        saturated = await users(chat, lambda u, m: {"user": f"sat{u}", "text": QUESTIONS[(u + m) % 8]},
                                args.users, args.messages, 0, args.limit)
        stop.set()
        webhooks = await zalo
        result["zalo_webhook_200"] = webhooks.result()
        await asyncio.sleep(1)  # the Zalo turns still queued finish: their CPU is counted with them
        # Each chat request and each Zalo event is a turn.
        result["saturation"] = {**saturated.result(), **cpu.per(len(saturated.latencies) + len(webhooks.latencies))}
        result["rss_mb_after_saturation"] = rss_mb(server.pid)
        cpu = Cpu(server.pid, pg if db == "postgresql" else None)
        paced = await users(chat, lambda u, m: {"user": f"paced{u}", "text": QUESTIONS[(u + m) % 8]},
                            args.paced_users, args.paced_messages, args.pause, args.limit)
        result["paced"] = {"users": args.paced_users, "pause_s": args.pause, **paced.result(),
                           **cpu.per(len(paced.latencies))}
        result["rss_mb"] = rss_mb(server.pid)
        return result
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        await fake.close()


async def run_bare(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_parse.py"), str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/model/parse"
    try:
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.post(url, json={"text": "xin chào"}) as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("bare parse server did not start") from None
                    await asyncio.sleep(0.5)
        cpu = Cpu(server.pid, None)
        saturated = await users(url, lambda u, m: {"text": QUESTIONS[(u + m) % 8]}, args.users, args.messages, 0, args.limit)
        cpu_saturated = cpu.per(len(saturated.latencies))
        paced = await users(url, lambda u, m: {"text": QUESTIONS[(u + m) % 8]},
                            args.paced_users, args.paced_messages, args.pause, args.limit)
        return {"saturation": {**saturated.result(), **cpu_saturated}, "paced": {"users": args.paced_users, **paced.result()},
                "rss_mb": rss_mb(server.pid)}
    finally:
        server.terminate()
        server.wait(30)


def table(bare: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    lines = ["| database | workers | saturation turns/s (× bare) | saturation p99 ms | CPU ms per turn (+ PostgreSQL) "
             "| Zalo 200 p99 ms | paced users | paced p50 / p95 / p99 ms | errors | RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    b = bare["saturation"]["throughput"]
    for r in runs:
        s, p, z = r["saturation"], r["paced"], r["zalo_webhook_200"]
        cpu = f"{s.get('server_cpu_ms', '–')}" + (f" (+ {s['postgres_cpu_ms']})" if "postgres_cpu_ms" in s else "")
        lines.append(f"| {r['db']} | {r['workers']} | {s['throughput']} ({s['throughput'] / b:.2f}) | {s['p99']} | {cpu} "
                     f"| {z['p99']} | {p['users']} | {p['p50']} / {p['p95']} / {p['p99']} "
                     f"| {s['errors'] + p['errors'] + z['errors']} | {r['rss_mb']} |")
    bp, errors = bare["paced"], bare["saturation"]["errors"] + bare["paced"]["errors"]
    lines.append(f"| bare Rasa parse | 1 | {b} (1.00) | {bare['saturation']['p99']} | "
                 f"{bare['saturation'].get('server_cpu_ms', '–')} | – | {bp['users']} "
                 f"| {bp['p50']} / {bp['p95']} / {bp['p99']} | {errors} | {bare['rss_mb']} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--users", type=int, default=20, help="saturation: users sending with no pause (20)")
    parser.add_argument("--messages", type=int, default=25, help="saturation: messages per user (25)")
    parser.add_argument("--paced-users", type=int, default=100, help="paced: users (100)")
    parser.add_argument("--paced-messages", type=int, default=5, help="paced: messages per user (5)")
    parser.add_argument("--pause", type=float, default=2.0, help="paced: seconds between a user's messages (2)")
    parser.add_argument("--zalo-rate", type=float, default=10.0, help="Zalo webhooks per second during saturation")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds at most per phase (120)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    counts = [int(w) for w in args.workers.split(",")]
    bare = await run_bare(args)
    runs: list[dict[str, Any]] = []
    pg = None
    if "postgresql" in dbs:
        from tests.pg.server import ThrowawayPostgres

        pg = ThrowawayPostgres().start()
    try:
        for db in dbs:
            for workers in counts:
                if db == "sqlite" and workers > 1:
                    continue  # refused at start, by design
                runs.append(await run_config(db, workers, args, pg))
                print(json.dumps(runs[-1], ensure_ascii=False), flush=True)
    finally:
        if pg is not None:
            pg.stop()
    for r in runs:
        r["ratio_to_bare"] = round(r["saturation"]["throughput"] / bare["saturation"]["throughput"], 2)
    report = {"bare_rasa_parse": bare, "runs": runs, "settings": vars(args)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(table(bare, runs))
    print(f"written: {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
