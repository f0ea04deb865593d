"""A Rasa component that links a message to the procedures it is about.

At training time it takes the knowledge base's search index (built from
knowledge/: every catalog name plus the curated guides' colloquial names) and
persists it with the model, so a model answers the same way wherever it is loaded.
"""

from __future__ import annotations

import pickle
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.components.normalizer import ORIGINAL_TEXT

PROCEDURES = "procedures"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ProcedureLinker(GraphComponent):
    """Adds `procedures`: ranked [{code, name, score}] for the message, scores in [0, 1]."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # how many candidate procedures to return
            "top_k": 5,
            # candidates scoring below this are dropped
            "min_score": 0.2,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        unknown = set(config) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"ProcedureLinker: unknown option(s) {sorted(unknown)}")
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._index: Any = None
        self._names: Dict[str, str] = {}

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> ProcedureLinker:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from knowledge import load_knowledge

        kb = load_knowledge()
        self._index = kb._index  # the knowledge base's own search, frozen into the model
        self._names = {p.code: p.name for p in kb.procedures}
        with self._storage.write_to(self._resource) as model_dir:
            blob = pickle.dumps((self._index, self._names), protocol=pickle.HIGHEST_PROTOCOL)
            (model_dir / "index.pickle").write_bytes(blob)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ProcedureLinker:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                # Our own artefact, written by train() above into the model archive.
                component._index, component._names = pickle.loads((model_dir / "index.pickle").read_bytes())
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"ProcedureLinker: the model has no procedure index ({resource.name}): {e}") from e
        return component

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""
            found = []
            if self._index is not None and text.strip():
                for code, score, _matched in self._index.search(text, self.config["top_k"]):
                    if score >= self.config["min_score"]:
                        found.append({"code": code, "name": self._names.get(code, code), "score": round(float(score), 4)})
            message.set(PROCEDURES, found, add_to_output=True)
        return messages
