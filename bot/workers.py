"""WORKERS=N: N server processes on one port, started and stopped together by one parent process.

Each worker is a whole `python -m bot serve` (its own NLU model, event loop and database pool) that
listens on the same HOST:PORT with SO_REUSEPORT, so the kernel spreads connections over them. They share
nothing but the database, which is why several workers need PostgreSQL: a person's turns are serialised
by a database lock, Telegram's long polling is elected through a lease row. The same holds for workers
started one per port behind a reverse proxy, or on several machines against one PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import signal

# bandit B404/B603: starts this same program (sys.executable -m bot serve) with fixed arguments, nothing else.
import subprocess  # nosec B404
import sys
from types import FrameType

from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Set by the parent in each worker's environment: the worker's number (and that it is one).
WORKER_ENV = "BOT_WORKER"


def is_worker() -> bool:
    return WORKER_ENV in os.environ


def check_workers(settings: Settings) -> None:
    """WORKERS above 1 needs a database every worker can lock and write at once."""
    if settings.workers > 1 and not settings.database_url_resolved.startswith("postgresql"):
        raise SettingsError(
            f"WORKERS={settings.workers} needs PostgreSQL (DATABASE_URL=postgresql+psycopg2://user:password@host/db): "
            "with SQLite only one process may write, so it serves with WORKERS=1"
        )


def run_workers(settings: Settings) -> int:
    """Migrates once, starts the workers, stops them all on SIGTERM/SIGINT or when one of them dies."""
    from bot.storage import Store
    from bot.storage.crypto import keyring_from_settings

    store = Store.open(settings.database, keyring_from_settings(settings))  # one migration, before any worker opens the database
    store.engine.dispose()
    workers = [
        subprocess.Popen([sys.executable, "-m", "bot", "serve"], env={**os.environ, WORKER_ENV: str(number)})  # nosec B603
        for number in range(1, settings.workers + 1)
    ]
    log.info("%d workers on %s:%s (pids %s)", len(workers), settings.host, settings.port, " ".join(str(w.pid) for w in workers))
    stopping = False

    def stop_all(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    status = 0
    while any(w.poll() is None for w in workers):
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        if not stopping:
            # A worker that dies takes the others down: the service manager restarts the whole, cleanly.
            log.error("worker %s stopped (status %s); stopping the others", pid, code)
            status = 1
            stop_all(signal.SIGTERM, None)
    for worker in workers:
        worker.wait()
    return status
