"""`python -m bot serve` with a turn that never ends: the server still answers, and SIGTERM stops it.

Before issue 14 a message that kept the search busy froze every request for 18 minutes and the
server ignored SIGTERM. Here the fault is injected in a real server process: its understanding
never returns.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

STUCK_SERVER = textwrap.dedent(
    """
    import sys, threading
    import bot.runtime as runtime
    from bot.__main__ import main

    class Stuck:
        def parse_sync(self, text):
            threading.Event().wait()  # a turn that never ends

        async def parse(self, text):
            threading.Event().wait()

    build = runtime.build_assistant
    runtime.build_assistant = lambda settings, nlu=None: build(settings, nlu=Stuck())
    sys.exit(main(["serve"]))
    """
)


API_KEY = "stop-test-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, time.monotonic() - started


def test_a_stuck_turn_holds_neither_the_server_nor_its_stop(tmp_path: Path, project_root: Path):
    port = _free_port()
    env = {
        **os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": f"sqlite:///{tmp_path / 'stop.db'}",
        "TURN_BUDGET_SECONDS": "1", "DOSSIER_DEMO": "false", "LOG_LEVEL": "WARNING",
        "TELEGRAM_BOT_TOKEN": "", "ZALO_APP_ID": "", "PYTHONWARNINGS": "ignore",
        "API_KEYS": f"stop:{API_KEY}",  # a front end of the JSON API names its own users
    }
    server = subprocess.Popen(
        [sys.executable, "-c", STUCK_SERVER], cwd=project_root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                _get(f"{base}/healthz", 1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        request = urllib.request.Request(
            f"{base}/api/chat", data=json.dumps({"user": "stuck-user", "text": "xin chào"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
        )
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert time.monotonic() - started < 5
        assert "thêm chút thời gian" in body["replies"][0]["text"]  # the polite over-budget reply
        status, took = _get(f"{base}/healthz", 5)  # the turn is still stuck in its worker
        assert status == 200 and took < 1
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        assert server.returncode == 0, server.communicate()[0]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
