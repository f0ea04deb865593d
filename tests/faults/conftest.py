"""Fault injection with real processes: `python -m bot serve` started, killed with SIGKILL, started again,
on a real SQLite file, talking real HTTP to the local fakes (tests/channels) on ports the system picks."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import report

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Web chat ready: open http://127\.0\.0\.1:(\d+)/")
START_SECONDS = 120


class ServerProcess:
    """One `python -m bot serve` on 127.0.0.1 and a free port; its output goes to a log file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "MODEL_DIR": str(ROOT / "models"),
                    "PYTHONWARNINGS": "ignore", "LOG_LEVEL": "INFO", **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def launch(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        return self.process

    async def start(self) -> ServerProcess:
        self.log_path.write_bytes(b"")
        process = self.launch()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            found = READY.search(self.log())
            if found:
                self.port = int(found.group(1))
                return self
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)
        self.kill9()
        raise AssertionError(f"the server did not start in {START_SECONDS} s:\n{self.log()[-3000:]}")

    def kill9(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; what was in memory is gone."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Started servers are killed after the test, whatever happened (a clean stop is not what these test)."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill9()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "faults.db"


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    """Reads the server's SQLite file as an operator would (the server may be dead or alive)."""
    connection = sqlite3.connect(db, timeout=10)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = report.write()
    if path is not None:
        print(f"\nrobustness table: {path}")
