"""Start-up time to the first answer and memory of the running server, measured as a new user meets them.

    .venv/bin/python bench/startup.py [--port 8099] [--questions 5] [--no-browser]

Launches `make run` (set-up and training are skipped when already done, so a second run
shows the everyday start), waits for the web chat, asks the birth-registration question
over POST /api/chat and times launch -> first answer. Then opens the page in headless
Chromium (when installed), asks the same question without diacritics and presses the fee
button, asks a few more questions, and reads the server's resident memory from /proc.
Prints the figures and writes them to bench/results/startup.json; stops the server it started.
Exit status: 0 done, 1 the server did not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.json"
QUESTION = "làm giấy khai sinh cần giấy tờ gì"
MORE_QUESTIONS = [
    "đăng ký kết hôn mất mấy ngày",
    "lam so do le phi bao nhieu",
    "đăng ký tạm trú nộp ở đâu",
    "xin chào",
    "tra cứu hồ sơ 000.00.19.H12-261116-0012",
]
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=412,915",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_chat(base: str, user: str, text: str, timeout: float = 60) -> dict[str, Any]:
    """One web chat turn as the page sends it: the server's session cookie is the user (`user` names the jar)."""
    opener = _openers.setdefault(user, urllib.request.build_opener(urllib.request.HTTPCookieProcessor()))
    request = urllib.request.Request(
        base + "api/chat", data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read())


_openers: dict[str, urllib.request.OpenerDirector] = {}


def server_pid(root_pid: int) -> int | None:
    """The `python -m bot serve` process under `make run`."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(cmdline.parent.name)
        if b"bot" in args and b"serve" in args and _descends_from(pid, root_pid):
            return pid
    return None


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def memory_mib(pid: int) -> dict[str, float]:
    fields = {}
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields.get("VmRSS", 0.0), "peak_rss_mib": fields.get("VmHWM", 0.0)}


def wait_first_answer(base: str, process: subprocess.Popen, started: float, limit: float) -> tuple[float, dict]:
    """Retries the question until the server answers it; the time is from launching `make run`."""
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            raise SystemExit(f"`make run` stopped with status {process.returncode} before answering")
        try:
            body = post_chat(base, "bench-startup", QUESTION)
            return time.monotonic() - started, body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise SystemExit(f"no answer from {base} within {limit:.0f} s")


def browser_check(base: str) -> dict[str, Any]:
    """Opens the page, asks without diacritics, presses the fee button: what a new user does."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={ROOT / 'var' / 'bench-chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    bot = "#log > li.bot"

    def answered(before: int) -> list:
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "log").get_attribute("aria-busy") == "false"
            and len(d.find_elements(By.CSS_SELECTOR, bot)) > before
        )
        return driver.find_elements(By.CSS_SELECTOR, bot)[before:]

    try:
        started = time.monotonic()
        driver.get(base)
        answered(0)
        page_ready = time.monotonic() - started
        before = len(driver.find_elements(By.CSS_SELECTOR, bot))
        driver.find_element(By.ID, "text").send_keys("lam giay khai sinh can giay to gi", Keys.ENTER)
        answer = answered(before)
        fee_button = next(b for m in answer for b in m.find_elements(By.TAG_NAME, "button") if "Lệ phí" in b.text)
        before = len(driver.find_elements(By.CSS_SELECTOR, bot))
        fee_button.click()
        fee = answered(before)
        shot = ROOT / "var" / "artifacts" / "screenshots" / "bench-startup-fee.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shot))
        return {
            "page_to_menu_s": round(page_ready, 2),
            "answer_first_line": answer[0].text.splitlines()[0],
            "fee_first_line": fee[0].text.splitlines()[0],
            "screenshot": str(shot),
        }
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port for `make run` (default: a free one)")
    parser.add_argument("--questions", type=int, default=len(MORE_QUESTIONS), help="questions asked before reading RSS")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium check")
    parser.add_argument("--limit", type=float, default=900, help="seconds to wait for the first answer")
    args = parser.parse_args(argv)

    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    log_path = ROOT / "var" / "bench-startup.log"
    log_path.parent.mkdir(exist_ok=True)
    print(f"make run (PORT={port}), log in {log_path}", flush=True)
    with open(log_path, "w") as log:
        started = time.monotonic()
        process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            first_answer_s, body = wait_first_answer(base, process, started, args.limit)
            figures: dict[str, Any] = {
                "first_answer_s": round(first_answer_s, 2),
                "first_answer_intent": body.get("intent"),
                "first_answer_line": body["replies"][0]["text"].splitlines()[0] if body.get("replies") else "",
            }
            if not args.no_browser and Path("/usr/bin/chromium").exists():
                figures["browser"] = browser_check(base)
            latencies = []
            for text in (MORE_QUESTIONS * 2)[: args.questions]:
                t = time.monotonic()
                post_chat(base, "bench-startup-2", text)
                latencies.append(time.monotonic() - t)
            figures["questions"] = len(latencies)
            figures["answer_ms_mean"] = round(1000 * sum(latencies) / max(len(latencies), 1), 1)
            pid = server_pid(process.pid)
            figures.update(memory_mib(pid) if pid else {"rss_mib": None, "peak_rss_mib": None})
        finally:
            os.killpg(process.pid, signal.SIGINT)  # the group we started: make and its server
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"launch -> first answer: {figures['first_answer_s']} s ({figures['first_answer_intent']})")
    if "browser" in figures:
        print(f"browser: menu in {figures['browser']['page_to_menu_s']} s; asked, pressed '💰 Lệ phí': "
              f"{figures['browser']['fee_first_line']!r}; screenshot {figures['browser']['screenshot']}")
    print(f"after {figures['questions']} more questions (mean {figures['answer_ms_mean']} ms): "
          f"RSS {figures['rss_mib']} MiB, peak {figures['peak_rss_mib']} MiB")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
