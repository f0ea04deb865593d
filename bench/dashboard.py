"""The desk's figures page with a year of traffic: 100,000 stored messages and 10,000 ratings.

    .venv/bin/python bench/dashboard.py [--messages 100000] [--ratings 10000] [--runs 7] [--postgres]

Fills a fresh database with bulk inserts (SQLite under a temporary folder; with --postgres also a
throwaway PostgreSQL cluster made with initdb/pg_ctl when they are installed), then times the whole
GET /desk/figures for a year per week and for the last 30 days per day (signed in, real HTTP, SQL,
template and SVG charts) and the largest CSV export. Prints the figures and writes them to
bench/results/dashboard.json. Exit status 1 when a run of the page takes 1 s or more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
BUDGET_S = 1.0
PROCEDURES = ["1.001193", "1.000894", "2.000908", "1.004227", "1.003005", "1.001612", "2.001711", "1.000656"]
QUESTIONS = ["khai sinh cần gì", "lệ phí bao nhiêu", "nộp ở đâu", "mất mấy ngày", "hồ sơ của tôi đến đâu rồi",
             "asdf qwer", "cho hỏi cái này", "làm sao để nộp online", "đăng ký tạm trú", "thủ tục kết hôn"]


def seed(url: str, messages: int, ratings: int) -> float:
    """Bulk inserts a year of traffic; answers the seconds it took."""
    from sqlalchemy import insert

    from bot.storage import Store
    from bot.storage.models import AssistedSubmission, Conversation, Feedback, Message, Ticket, User, utcnow

    started = time.monotonic()
    store = Store.open(url)
    rng = random.Random(7)
    now = utcnow()
    users = max(1, messages // 20)
    with store.engine.begin() as db:
        db.execute(insert(User), [{"id": i + 1, "channel": rng.choice(["web", "telegram", "zalo"]), "external_id": f"u{i}",
                                   "created_at": now, "last_seen_at": now} for i in range(users)])
        db.execute(insert(Conversation), [
            {"id": i + 1, "user_id": i + 1, "started_at": now - timedelta(days=rng.randint(0, 364)), "updated_at": now,
             "flow_state": {}} for i in range(users)])
        # Messages are stored as they happen, so the table is in time order (as a real one is).
        stamps = sorted(now - timedelta(minutes=rng.randint(0, 525_600)) for _ in range(messages))
        batch = []
        for i in range(messages):
            inbound = i % 2 == 0
            confidence = rng.random()
            batch.append({
                "conversation_id": rng.randint(1, users), "direction": "in" if inbound else "out",
                "text": rng.choice(QUESTIONS) if inbound else "Trả lời của trợ lý",
                "intent": "ask_documents" if inbound else None,
                "confidence": confidence if inbound else None, "created_at": stamps[i],
                "procedure_code": rng.choice(PROCEDURES) if inbound and confidence > 0.5 else None,
            })
            if len(batch) == 10_000:
                db.execute(insert(Message), batch)
                batch = []
        if batch:
            db.execute(insert(Message), batch)
        db.execute(insert(Feedback), [
            {"user_id": rng.randint(1, users), "kind": "rating", "text": "",
             "rating": rng.choice(["very_satisfied", "satisfied", "satisfied", "unsatisfied"]),
             "created_at": now - timedelta(minutes=rng.randint(0, 525_600))} for _ in range(ratings)])
        created = [now - timedelta(minutes=rng.randint(0, 525_600)) for _ in range(ratings // 5)]
        db.execute(insert(Ticket), [
            {"user_id": rng.randint(1, users), "reason": "request_human", "summary": "", "status": "closed",
             "created_at": c, "first_answer_at": c + timedelta(minutes=rng.randint(1, 600))} for c in created])
        db.execute(insert(AssistedSubmission), [
            {"procedure_code": rng.choice(PROCEDURES), "dossier_code": "",
             "method": rng.choice(["online", "in_person", "postal"]),
             "created_at": now - timedelta(minutes=rng.randint(0, 525_600))} for _ in range(ratings // 2)])
    store.engine.dispose()
    return time.monotonic() - started


async def time_pages(url: str, runs: int) -> dict[str, Any]:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.assistant import Assistant
    from bot.runtime import build_engine
    from bot.settings import Settings
    from bot.storage import Store
    from bot.users import Accounts
    from bot.web import create_app
    from knowledge import load_knowledge

    settings = Settings.load(environ={"DATABASE_URL": url}, env_file=None)
    store = Store.open(url)
    assistant = Assistant(nlu=None, engine=build_engine(settings), store=store, knowledge=load_knowledge())  # type: ignore[arg-type]
    Accounts(store).add("bench", "staff", "mat-khau-bench-1", "Bench")
    client = TestClient(TestServer(create_app(assistant), host="127.0.0.1"))
    await client.start_server()
    try:
        form = await (await client.get("/desk/sign-in")).text()
        token = form.split('name="csrf" value="')[1].split('"')[0]
        await client.post("/desk/sign-in", data={"username": "bench", "password": "mat-khau-bench-1", "csrf": token})
        from knowledge import vietnam_date

        today = vietnam_date(store_now())
        pages = {
            "year_by_week": f"/desk/figures?from={today - timedelta(days=364)}&to={today}&by=week",
            "30_days_by_day": "/desk/figures",
            "year_unanswered_csv": f"/desk/figures.csv?table=unanswered&from={today - timedelta(days=364)}&to={today}",
        }
        out: dict[str, Any] = {}
        for name, path in pages.items():
            times = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                response = await client.get(path)
                body = await response.read()
                times.append(time.perf_counter() - started)
                assert response.status == 200 and len(body) > 100, (name, response.status)
            times = times[1:]  # the first run warms caches
            out[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3), "bytes": len(body)}
        return out
    finally:
        await client.close()
        store.engine.dispose()


def store_now():
    from bot.storage.models import utcnow

    return utcnow()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder, listening on a free local port, removed afterwards."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.port = free_port()

    def __enter__(self) -> str:
        data = self.folder / "data"
        run = ["initdb", "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8"]
        user = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the nobody account when there is one
            shutil.chown(self.folder, "nobody")
            user = ["runuser", "-u", "nobody", "--"]
        subprocess.run(user + run, check=True, capture_output=True)
        subprocess.run(user + ["pg_ctl", "-D", str(data), "-l", str(self.folder / "log"), "-w", "-o",
                               f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True)
        subprocess.run(user + ["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "bench", "desk"],
                       check=True, capture_output=True)
        self.user = user
        return f"postgresql+psycopg2://bench@127.0.0.1:{self.port}/desk"

    def __exit__(self, *exc: object) -> None:
        subprocess.run(self.user + ["pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def run(url: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    seconds = seed(url, args.messages, args.ratings)
    pages = asyncio.run(time_pages(url, args.runs))
    print(f"{label}: seeded {args.messages:,} messages and {args.ratings:,} ratings in {seconds:.1f} s")
    for name, figures in pages.items():
        print(f"  {name:22s} median {figures['median_s']:.3f} s  max {figures['max_s']:.3f} s  ({figures['bytes']:,} bytes)")
    return {"seed_s": round(seconds, 1), **pages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL (initdb, pg_ctl)")
    args = parser.parse_args()
    results: dict[str, Any] = {"messages": args.messages, "ratings": args.ratings}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run(f"sqlite:///{folder}/bench.db", "SQLite", args)
    if args.postgres:
        if not shutil.which("initdb") or not shutil.which("pg_ctl"):
            print("PostgreSQL: initdb/pg_ctl not installed; skipped")
        else:
            with ThrowawayPostgres() as url:
                results["postgresql"] = run(url, "PostgreSQL", args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
    slow = [(db, name) for db in ("sqlite", "postgresql") for name, f in results.get(db, {}).items()
            if isinstance(f, dict) and f["max_s"] >= BUDGET_S]
    if slow:
        print(f"over {BUDGET_S} s: {slow}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
