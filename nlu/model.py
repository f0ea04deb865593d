"""The trained NLU model, loaded once; turns a message into a ParseResult."""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from knowledge import link_decision
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
    intent = raw.get("intent") or {}
    entities: dict[str, str] = {}
    for entity in raw.get("entities", []):
        entities.setdefault(entity["entity"], str(entity["value"]))
    ranking = [(r["name"], float(r["confidence"])) for r in raw.get("intent_ranking", [])]
    procedures = [ProcedureMatch(p["code"], p["name"], float(p["score"])) for p in raw.get("procedures", [])]
    name, confidence = read_named_question(intent.get("name"), float(intent.get("confidence") or 0.0), ranking, procedures)
    if name == QUESTION_INTENT and raw.get("rule_question"):
        # no part of a procedure asked, only what a rule says: honest scope (nlu/aspects.yml, anchored_only)
        name, confidence = OUT_OF_SCOPE, max(dict(ranking).get(OUT_OF_SCOPE, 0.0), UNSURE)
    aspects = [str(a) for a in raw.get("aspects") or []] if name == QUESTION_INTENT else []
    if aspects:
        name = INTENT_OF_ASPECT.get(aspects[0], QUESTION_INTENT)
    return read_bare_name(ParseResult(
        text=text,
        intent=name,
        confidence=confidence,
        ranking=ranking,
        entities=entities,
        procedures=procedures,
        aspects=aspects,
    ), part_named=bool(raw.get("part_named")))


# Between a question and out of scope, with a procedure named, the question wins when it has at
# least this share of out of scope's confidence (0.5 and 0.3 compared on nlu_heldout.yml: 0.3 one better).
QUESTION_OVER_SCOPE = 0.3
OUT_OF_SCOPE = "out_of_scope"


def read_named_question(
    intent: str | None, confidence: float, ranking: list[tuple[str, float]], procedures: list[ProcedureMatch]
) -> tuple[str | None, float]:
    """Honest scope both ways: a message that names a procedure, which the classifier is unsure is a
    question or out of scope, is a question (the catalog may answer it).

    Only the parse has both signals: the linker names the procedure, the classifier weighs the two.
    A rule question ("không đăng ký tạm trú thì bị phạt bao nhiêu") is sure to be out of scope.
    """
    if intent != OUT_OF_SCOPE or link_decision([p.score for p in procedures]) == "weak":
        return intent, confidence
    question = dict(ranking).get(QUESTION_INTENT, 0.0)
    if question >= QUESTION_OVER_SCOPE * confidence:
        return QUESTION_INTENT, max(question, UNSURE)
    return intent, confidence


# A message that is only a procedure's name ("khai sinh", "ho chieu") has no words the classifier
# can tell an intent from; when the linker is this sure of the name, it is a question about it.
BARE_NAME_SCORE = 0.9
BARE_NAME_WORDS = 8
UNSURE = 0.75
BARE_NAME_INTENT = "ask_documents"
PROCEDURE_INTENTS = ("ask_documents", "ask_fee", "ask_processing_time", "ask_where", "ask_conditions",
                     "ask_result", "ask_legal_basis", "ask_postal", "ask_howto_online", QUESTION_INTENT)
# The intents a question about a part of a procedure is read as (not the walk-through).
QUESTION_INTENTS = (*INTENT_OF_ASPECT.values(), QUESTION_INTENT)


def read_bare_name(parse: ParseResult, part_named: bool = False) -> ParseResult:
    """A short message that is mostly a procedure's name is a question about it, when the classifier is unsure.

    Only the parse has both signals, the linker sure of the name and the classifier unsure of the intent.
    The classifier reads a bare name ("khai sinh", "đăng ký khai sinh") as whatever small talk, or
    whatever part, is nearest: unless the words name a part (an anchor: "mẫu tờ khai", "lệ phí"), it
    asks the common case, the documents. The online walk-through keeps its own reading.
    (Mistyped dossier codes need no rule here: the normaliser masks them like well-formed ones.)
    """
    top = parse.procedures[0].score if parse.procedures else 0.0
    if top < BARE_NAME_SCORE or parse.confidence >= UNSURE or len(parse.text.split()) > BARE_NAME_WORDS:
        return parse
    if parse.intent not in PROCEDURE_INTENTS:
        return replace(parse, intent=BARE_NAME_INTENT, confidence=UNSURE, aspects=["documents"])
    if parse.intent in QUESTION_INTENTS and parse.aspects:  # not a follow-up (no aspects: the part asked before)
        if part_named:
            return replace(parse, confidence=UNSURE)
        return replace(parse, intent=BARE_NAME_INTENT, confidence=UNSURE, aspects=["documents"])
    return parse
