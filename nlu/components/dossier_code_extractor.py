"""A Rasa component that finds dossier codes (mã hồ sơ) by their printed format."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.components.normalizer import ORIGINAL_TEXT
from nlu.dossier_code import typed_dossier_codes

ENTITY = "dossier_code"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class DossierCodeExtractor(GraphComponent):
    """Adds a `dossier_code` entity (canonical form) for each code in the message, as meant when mistyped."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> DossierCodeExtractor:
        if config:
            raise ValueError(f"DossierCodeExtractor takes no options, got {sorted(config)}")
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""
            entities = list(message.get(ENTITIES, []))
            for start, end, code in typed_dossier_codes(text):
                entities.append({
                    "entity": ENTITY, "start": start, "end": end, "value": code,
                    "confidence": 1.0, "extractor": type(self).__name__,
                })
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
