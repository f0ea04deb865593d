"""The trained NLU model, loaded once; turns a message into a ParseResult."""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from nlu.acts import QUESTION_INTENT
from nlu.predict_graph import PredictGraph, load_predict_graph
from nlu.result import ParseResult, ProcedureMatch
from nlu.train import model_file

log = logging.getLogger(__name__)


class ModelMissingError(RuntimeError):
    """No trained model matches the current training data and config."""


class NluModel:
    """A Rasa NLU model; `parse` is what the Assistant calls for every typed message."""

    def __init__(self, graph: PredictGraph, path: Path, load_seconds: float):
        # Imported here, at load, not on the first parse: rasa.core takes ~1.3 s to import.
        from rasa.core.channels.channel import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE

        self._graph = graph
        self._message = UserMessage
        self._input = PLACEHOLDER_MESSAGE
        self.path = path
        self.load_seconds = load_seconds

    @classmethod
    def load(cls, model_dir: Path, path: Path | None = None) -> NluModel:
        path = path or model_file(model_dir)
        if not path.exists():
            raise ModelMissingError(
                f"No NLU model for the current data at {path}. Train it with `python -m nlu train` (make run does)."
            )
        started = time.monotonic()
        # The predict graph alone, without Rasa's training imports (see nlu/predict_graph.py).
        unpacked = Path(tempfile.mkdtemp(prefix="nlu-model-"))
        atexit.register(shutil.rmtree, unpacked, True)
        graph = load_predict_graph(path, unpacked)
        model = cls(graph, path, 0.0)
        model.load_seconds = time.monotonic() - started
        log.info("NLU model %s loaded in %.1f s", path.name, model.load_seconds)
        return model

    def parse_sync(self, text: str) -> ParseResult:
        """Understands one message; CPU work bounded by its length (the Assistant runs it in a worker thread)."""
        graph = self._graph
        results = graph.runner.run(inputs={self._input: [self._message(text)]}, targets=[graph.nlu_target])
        raw = results[graph.nlu_target][0].as_dict(only_output_properties=True)
        return to_parse_result(text, raw)

    async def parse(self, text: str) -> ParseResult:
        """`parse_sync` in a worker thread: an async caller's event loop is never held by the model."""
        return await asyncio.to_thread(self.parse_sync, text)


# The flows start on the question intent of the part asked first (procedure_info answers it):
# forms are in the documents list (tờ khai theo mẫu), who may apply is with the conditions
# (đối tượng, điều kiện); steps and online stay ask_procedure (never the submission flow).
# Every part asked is in ParseResult.aspects.
INTENT_OF_ASPECT = {
    "documents": "ask_documents", "fee": "ask_fee", "time": "ask_processing_time", "where": "ask_where",
    "conditions": "ask_conditions", "result": "ask_result", "legal": "ask_legal_basis", "postal": "ask_postal",
    "forms": "ask_documents", "who": "ask_conditions",
}


def to_parse_result(text: str, raw: dict[str, Any]) -> ParseResult:
    """The pipeline's output as the flows read it: a question is named by the part asked first."""
    intent = raw.get("intent") or {}
    entities: dict[str, str] = {}
    for entity in raw.get("entities", []):
        entities.setdefault(entity["entity"], str(entity["value"]))
    ranking = [(r["name"], float(r["confidence"])) for r in raw.get("intent_ranking", [])]
    procedures = [ProcedureMatch(p["code"], p["name"], float(p["score"])) for p in raw.get("procedures", [])]
    name = intent.get("name")
    aspects = [str(a) for a in raw.get("aspects") or []] if name == QUESTION_INTENT else []
    if aspects:
        name = INTENT_OF_ASPECT.get(aspects[0], QUESTION_INTENT)
    return ParseResult(
        text=text,
        intent=name,
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=entities,
        procedures=procedures,
        aspects=aspects,
    )
