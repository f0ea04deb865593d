"""Benchmark what protecting personal data costs a turn: encrypting and decrypting the flow state,
masking a message, and a whole store round trip (one turn's writes and the next turn's read).

    .venv/bin/python bench/privacy_overhead.py

Prints median and p95 per operation, and masking time by message length (it must grow linearly:
the mask runs on the event loop for every stored message and log line); writes the same to
bench/results/privacy_overhead.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.privacy import mask  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.storage.crypto import Keyring, new_key  # noqa: E402
from bot.storage.models import utcnow  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "privacy_overhead.json"
STATE = {
    "stack": [{"flow": "complaint", "step": 3}],
    "slots": {"complaint_text": "Cán bộ hẹn mà không trả kết quả, gọi tôi số 0912345678. " * 4,
              "procedure_code": "1.001193", "dossier_status_code": "000.00.19.H12-261020-0007"},
    "offered": {f"nut {i}": f'/ask_procedure{{"procedure": "1.00{i}", "aspect": "fee"}}' for i in range(8)},
}
MESSAGE = "hồ sơ 000.00.19.H12-261020-0007 của tôi đến đâu rồi, số tôi 0912 345 678, cccd 001203004567"


def timed(action: Callable[[], object], runs: int) -> dict[str, float]:
    action()  # warm up (the first Fernet call loads OpenSSL)
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"median_ms": round(statistics.median(took), 4), "p95_ms": round(took[int(len(took) * 0.95)], 4)}


def main() -> int:
    keyring = Keyring.from_text(new_key())
    plain = json.dumps(STATE, ensure_ascii=False)
    token = keyring.encrypt(plain)
    results: dict[str, object] = {
        "flow_state_chars": len(plain),
        "encrypt_flow_state": timed(lambda: keyring.encrypt(plain), 2000),
        "decrypt_flow_state": timed(lambda: keyring.decrypt(token), 2000),
        "mask_message": timed(lambda: mask(MESSAGE), 2000),
        "mask_plain_question": timed(lambda: mask("làm giấy khai sinh cần giấy tờ gì"), 2000),
    }
    by_length = {}
    for length in (1_000, 4_000, 16_000, 64_000):
        text = ("giấy khai sinh 0912 345 678 hồ sơ 000.00.19 h12 " * (length // 40 + 1))[:length]
        by_length[str(length)] = timed(lambda text=text: mask(text), 5)
    results["mask_by_length"] = by_length

    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/bench.db", keyring)

        def turn() -> None:
            now = utcnow()
            with store.session() as session, session.begin():
                conversation = store.conversation_for(session, "web", "bench", now)
                state = dict(conversation.flow_state or {})
                conversation.flow_state = {**STATE, "turns": state.get("turns", 0) + 1}
                store.add_message(session, conversation, "in", MESSAGE, "check_status", 0.9, now)
                store.add_message(session, conversation, "out", "Hồ sơ của bạn đang được xử lý.", now=now)

        results["store_turn_round_trip"] = timed(turn, 300)
        store.engine.dispose()

    for name, value in results.items():
        print(f"{name:24} {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
