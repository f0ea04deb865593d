"""The model file missing or corrupt at start: one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults import report
from tests.faults.conftest import ServerProcess


def corrupt(model_dir) -> None:
    from nlu.train import model_file

    model_dir.mkdir(parents=True, exist_ok=True)
    model_file(model_dir).write_bytes(b"\x1f\x8b not really a model, cut short by a full disk")


@pytest.mark.parametrize("fault", ["missing", "corrupt"])
async def test_a_missing_or_corrupt_model_stops_the_start_with_one_clear_line(fault, database, tmp_path):
    models = tmp_path / "models"
    if fault == "corrupt":
        corrupt(models)
    server = ServerProcess({"DATABASE_URL": f"sqlite:///{database}", "MODEL_DIR": str(models)}, tmp_path / "start.log")
    process = server.launch()
    for _ in range(1200):
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    output = server.log()
    assert process.returncode == 2, output[-2000:]
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if "cannot start" in line]
    assert ("No NLU model" if fault == "missing" else "cannot be read") in line and "python -m nlu train" in line
    shown = line.replace(str(models), "models").split("(cannot start): ", 1)[1]
    report.record("fault", f"the NLU model file {fault} at start", f"exit code 2, one line: “{shown[:150]}”",
                  "nothing was accepted yet: the server never listened")
