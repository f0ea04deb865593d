"""Where a turn's CPU goes: /api/chat run in-process on a fixed list of messages, timed stage by stage.

The server (the real `create_app` around the real Assistant, model and database) runs on its own event
loop thread; a client on another thread sends the messages one at a time, so each stage's time is its
own. Every figure is CPU time of the thread doing the work (`time.thread_time`, and the loop and turn
threads' CPU clocks), not wall time: it holds on a machine shared with other work, where throughput does
not. Then cProfile, for the turn's and the event loop's top functions.

  python bench/turn_profile.py                      # SQLite, 200 turns
  python bench/turn_profile.py --db postgresql      # a throwaway PostgreSQL server (tests/pg/server.py)
  python bench/turn_profile.py --save before        # keep the figures; a later run prints them side by side
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import inspect
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.simplefilter("ignore")

import aiohttp  # noqa: E402

# The load bench's messages, users and front end: the profile explains the figures bench/load.py gives.
from bench.load import QUESTIONS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KEY = secrets.token_urlsafe(32)

# (stage, module path, owner attribute path, thread). Stages of one thread nest as listed: "rest" is the
# thread's CPU per turn minus its top-level stages.
STAGES: list[tuple[str, str, str, str]] = [
    ("request body (read_json)", "bot.web.app", "read_json", "loop"),
    ("caller (API key / session cookie)", "bot.web.app", "_caller", "loop"),
    ("Assistant.handle (hand-off, await)", "bot.assistant", "Assistant.handle", "loop"),
    ("Turn.to_dict", "flows.replies", "Turn.to_dict", "loop"),
    ("JSON response", "bot.web.app", "_json", "loop"),
    ("lock: acquire", "bot.storage.db", "ConversationLock.acquire", "turn"),
    ("lock: read person + state", "bot.storage.db", "ConversationLock.read", "turn"),
    ("handover.hold", "bot.handover", "Handover.hold", "turn"),
    ("parse (understand)", "bot.assistant", "Assistant.understand", "turn"),
    ("flow engine (+ actions)", "flows.engine", "FlowEngine.handle", "turn"),
    ("outbox.take_for_visit", "bot.assistant", "take_for_visit", "turn"),
    ("lock: save state + messages", "bot.storage.db", "ConversationLock.save", "turn"),
    ("lock: release (commit)", "bot.storage.db", "ConversationLock.release", "turn"),
]


class Clock:
    """CPU seconds per stage, summed over the run (each on the thread that runs it)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.thread_time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.spent[stage] += time.thread_time() - started
                    self.calls[stage] += 1

            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[stage] += time.thread_time() - started
                self.calls[stage] += 1

        return timed


def instrument(clock: Clock) -> list[tuple[Any, str, Any]]:
    """Wraps each stage's function where it is looked up; answers what to put back."""
    import importlib

    undo = []
    for stage, module_name, path, _thread in STAGES:
        owner: Any = importlib.import_module(module_name)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        if not hasattr(owner, name):
            continue  # a stage the code no longer has (a round trip folded into another)
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        undo.append((owner, name, original))
        setattr(owner, name, clock.wrap(stage, original))
    return undo


def thread_cpu(threads: list[threading.Thread]) -> float:
    total = 0.0
    for thread in threads:
        if thread.ident is not None and thread.is_alive():
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


def build(db: str, pg: Any, environ: dict[str, str] | None = None) -> tuple[Any, Any]:
    from cryptography.fernet import Fernet

    from bot.runtime import build_assistant
    from bot.settings import Settings

    url = pg.create_database(f"profile_{int(time.time())}") if db == "postgresql" else \
        f"sqlite:///{tempfile.mkdtemp(prefix='profile-')}/profile.db"
    settings = Settings.load(environ={
        "DATABASE_URL": url, "DATA_KEY": Fernet.generate_key().decode(), "API_KEYS": f"profile:{KEY}",
        "TELEGRAM_BOT_TOKEN": "", "LOG_LEVEL": "WARNING", **(environ or {}),
    }, env_file=None)
    assistant = build_assistant(settings)
    return assistant, settings


class Server:
    """The web app on an event loop of its own thread (as `python -m bot serve` runs it)."""

    def __init__(self, assistant: Any, settings: Any) -> None:
        self.assistant, self.settings = assistant, settings
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, name="server-loop", daemon=True)
        self.profile: cProfile.Profile | None = None

    def _run(self) -> None:
        from aiohttp import web

        from bot.web import create_app

        asyncio.set_event_loop(self.loop)

        async def start() -> web.AppRunner:
            runner = web.AppRunner(create_app(self.assistant, self.settings), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            return runner

        self.runner = self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> Server:
        self.thread.start()
        self.ready.wait(60)
        return self

    def call(self, fn: Callable[[], Any]) -> None:
        """Runs fn on the loop thread (to switch its profiler on or off) and waits for it."""
        done = threading.Event()
        self.loop.call_soon_threadsafe(lambda: (fn(), done.set()))
        done.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def messages(users: int, per_user: int) -> list[tuple[str, str]]:
    """bench/load.py's saturation messages, sent one at a time, users taking turns."""
    return [(f"u{u}", QUESTIONS[(u + m) % len(QUESTIONS)]) for m in range(per_user) for u in range(users)]


async def send_all(port: int, plan: list[tuple[str, str]], concurrent: bool = False) -> list[float]:
    """Sends the plan one message at a time, or (concurrent) every user at once, each user's in order."""
    url = f"http://127.0.0.1:{port}/api/chat"
    walls: list[float] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"},
                                     connector=aiohttp.TCPConnector(limit=0)) as http:

        async def send(said: list[tuple[str, str]]) -> None:
            for user, text in said:
                started = time.perf_counter()
                async with http.post(url, json={"user": user, "text": text}) as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"/api/chat answered {r.status} to {text!r}")
                walls.append(time.perf_counter() - started)

        if not concurrent:
            await send(plan)
        else:
            by_user: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for user, text in plan:
                by_user[user].append((user, text))
            await asyncio.gather(*(send(said) for said in by_user.values()))
    return walls


def top(profile: cProfile.Profile, turns: int, count: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    text = "\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip())
    return f"(cumulated over {turns} turns; tottime per turn = tottime / {turns})\n{text}"


def run(args: argparse.Namespace, pg: Any) -> dict[str, Any]:
    assistant, settings = build(args.db, pg, {"TURN_WORKERS": str(args.turn_workers)} if args.turn_workers else None)
    server = Server(assistant, settings).start()
    warm = messages(4, 3)
    asyncio.run(send_all(server.port, [(f"warm-{u}", t) for u, t in warm]))
    turn_threads = lambda: [t for t in threading.enumerate() if t.name.startswith("turn-")]  # noqa: E731
    # Messages registered on arrival (PostgreSQL), in a thread of their own.
    arrival_threads = lambda: [t for t in threading.enumerate() if t.name.startswith("arrival-")]  # noqa: E731

    # Pass 1: CPU per stage, no profiler.
    clock = Clock()
    undo = instrument(clock)
    plan = messages(args.users, args.turns // args.users)
    loop_before, turn_before, process_before = thread_cpu([server.thread]), thread_cpu(turn_threads()), time.process_time()
    arrival_before = thread_cpu(arrival_threads())
    walls = asyncio.run(send_all(server.port, plan, args.concurrent))
    loop_cpu, turn_cpu = thread_cpu([server.thread]) - loop_before, thread_cpu(turn_threads()) - turn_before
    arrival_cpu = thread_cpu(arrival_threads()) - arrival_before
    process_cpu = time.process_time() - process_before
    for owner, name, original in undo:
        setattr(owner, name, original)
    n = len(plan)
    ms = lambda seconds: round(seconds * 1000 / n, 2)  # noqa: E731
    stages: dict[str, float] = {}
    for thread, total in (("loop", loop_cpu), ("turn", turn_cpu)):
        listed = [(stage, clock.spent.get(stage, 0.0)) for stage, _m, _p, t in STAGES if t == thread and stage in clock.calls]
        for stage, spent in listed:
            stages[stage] = ms(spent)
        nested = {"lock: read person + state", "handover.hold", "parse (understand)", "flow engine (+ actions)",
                  "outbox.take_for_visit", "lock: save state + messages", "lock: acquire", "lock: release (commit)"}
        top_level = sum(spent for stage, spent in listed if thread == "loop" or stage in nested)
        if thread == "loop":
            # Assistant.handle's CPU on the loop is its own hand-off; the stages above nest nothing else.
            stages["event loop: rest (HTTP parse/write, routing, headers)"] = ms(total - top_level)
        else:
            stages["turn thread: rest (Turn, logging, thread wake-up)"] = ms(total - top_level)
    ordered = sorted(walls)
    result = {
        "db": args.db, "turns": n, "concurrent": args.concurrent,
        "cpu_ms_per_turn": {"event loop thread": ms(loop_cpu), "turn threads": ms(turn_cpu),
                            "arrival thread (registers each message, PostgreSQL)": ms(arrival_cpu),
                            "whole process (client included)": ms(process_cpu)},
        "stages_cpu_ms": stages,
        "wall_ms": {"p50": round(ordered[n // 2] * 1000, 2), "p99": round(ordered[int(n * 0.99)] * 1000, 2)},
    }

    # Pass 2: cProfile on the turn threads (each turn) and the event loop thread (the whole pass).
    if args.top:
        from bot.assistant import Assistant

        turn_profile = cProfile.Profile()
        loop_profile = cProfile.Profile()
        original = Assistant.run_turn
        guard = threading.Lock()

        def profiled(self: Any, *a: Any, **kw: Any) -> Any:
            with guard:  # one profiled turn at a time (a cProfile.Profile follows one thread at a time)
                turn_profile.enable()
                try:
                    return original(self, *a, **kw)
                finally:
                    turn_profile.disable()

        Assistant.run_turn = profiled  # type: ignore[method-assign]
        server.call(loop_profile.enable)
        asyncio.run(send_all(server.port, plan, args.concurrent))
        server.call(loop_profile.disable)
        Assistant.run_turn = original  # type: ignore[method-assign]
        result["top_turn"] = top(turn_profile, n, args.top)
        result["top_loop"] = top(loop_profile, n, args.top)
    server.stop()
    assistant.close()
    assistant.store.engine.dispose()
    return result


def show(result: dict[str, Any], before: dict[str, Any] | None) -> None:
    label = lambda key, value: f"{value:8.2f}" + (  # noqa: E731
        f"   (before {before_value:6.2f})" if before and (before_value := flat(before).get(key)) is not None else "")
    print(f"\n== {result['db']}: {result['turns']} turns, CPU ms per turn ==")
    for key, value in result["cpu_ms_per_turn"].items():
        print(f"  {key:<58}{label(key, value)}")
    print("  stages:")
    for key, value in result["stages_cpu_ms"].items():
        print(f"    {key:<56}{label(key, value)}")
    for key, value in (before or {}).get("stages_cpu_ms", {}).items():
        if key not in result["stages_cpu_ms"]:
            print(f"    {key:<56}{'–':>8}   (before {value:6.2f}; no longer run)")
    how = "users at once" if result.get("concurrent") else "one at a time"
    print(f"  wall per turn ({how}): p50 {result['wall_ms']['p50']} ms, p99 {result['wall_ms']['p99']} ms")
    for name in ("top_turn", "top_loop"):
        if name in result:
            print(f"\n-- top functions, {'turn threads' if name == 'top_turn' else 'event loop thread'} --")
            print(result[name])


def flat(result: dict[str, Any]) -> dict[str, float]:
    return {**result.get("cpu_ms_per_turn", {}), **result.get("stages_cpu_ms", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--turns", type=int, default=200, help="turns timed (200)")
    parser.add_argument("--users", type=int, default=20, help="users taking turns (20, as bench/load.py)")
    parser.add_argument("--concurrent", action="store_true",
                        help="all users at once, as bench/load.py's saturation (default: one message at a time)")
    parser.add_argument("--turn-workers", type=int, default=0, help="TURN_WORKERS (default: the setting's default)")
    parser.add_argument("--top", type=int, default=25, help="top functions by own time (0: no cProfile pass)")
    parser.add_argument("--save", metavar="LABEL", help="write bench/results/turn_profile-<db>-LABEL.json")
    parser.add_argument("--before", metavar="LABEL", default="before", help="compare with a saved run (before)")
    args = parser.parse_args()
    pg = None
    if args.db == "postgresql":
        from tests.pg.server import ThrowawayPostgres

        pg = ThrowawayPostgres().start()
    try:
        result = run(args, pg)
    finally:
        if pg is not None:
            pg.stop()
    mode = "-concurrent" if args.concurrent else ""
    saved = RESULTS / f"turn_profile-{args.db}{mode}-{args.before}.json"
    before = json.loads(saved.read_text()) if saved.exists() and args.save != args.before else None
    show(result, before)
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"turn_profile-{args.db}{mode}-{args.save}.json"
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
        print(f"written: {path}")


if __name__ == "__main__":
    main()
