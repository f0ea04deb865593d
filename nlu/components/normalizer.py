"""A Rasa component that rewrites each message into its canonical Vietnamese form."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.acts import ACT_WORDS_FILE, ActWords, PhraseSet, asking_clauses, clauses_of
from nlu.normalize import LEXICON_FILE, Lexicon, normalize

# The user's words before normalisation, kept for extractors that need the original.
ORIGINAL_TEXT = "original_text"
# The canonical clauses of the part of the message that asks (all of it when every sentence
# asks, or none does): the aspect classifier finds the parts asked there, clause by clause.
ASKING_CLAUSES = "asking_clauses"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class VietnameseNormalizer(GraphComponent):
    """Folds diacritics, expands teencode, masks dossier codes; runs before the tokenizer.

    In a message of several sentences of which only some ask, the asking ones are repeated
    after the whole: the question decides what is wanted, the story is context (it still
    counts, once, and the linker and extractors read the original text).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # YAML file of short forms to expand (relative to the project, or absolute)
            "lexicon": str(LEXICON_FILE),
            # YAML whose question_words tell the sentences that ask (null: no emphasis)
            "act_words": str(ACT_WORDS_FILE),
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        # Rasa caches training by config and inputs; the lexicon is neither, so a changed
        # lexicon must change the fingerprint or the classifier keeps the old normalisation.
        full = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        paths = [full["lexicon"], full["act_words"], Path(__file__).resolve().parent.parent / "acts.py"]
        for path in filter(None, paths):
            try:
                digest.update(Path(path).read_bytes())
            except OSError:
                digest.update(f"missing {path}".encode())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any]) -> None:
        unknown = set(config) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"VietnameseNormalizer: unknown option(s) {sorted(unknown)}")
        config = {**self.get_default_config(), **config}
        path = Path(config["lexicon"])
        try:
            self.lexicon = Lexicon.from_yaml(path)
        except (OSError, ValueError) as e:
            raise ValueError(f"VietnameseNormalizer: cannot read lexicon {path}: {e}") from e
        words = ActWords.from_yaml(Path(config["act_words"])) if config["act_words"] else None
        self.asking = PhraseSet(words.question_words) if words else None
        self.greetings = PhraseSet(words.greetings) if words else None
        self.saying_asking = PhraseSet(words.saying_asking) if words else None

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> VietnameseNormalizer:
        return cls(config)

    def _rewrite(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text:
            return
        message.set(ORIGINAL_TEXT, text)
        canonical = normalize(text, self.lexicon) or text
        asking = asking_clauses(text, self.asking, self.greetings, self.saying_asking) if self.asking is not None else None
        sentences = [" ".join(sentence) for sentence in asking or ()]
        message.set(TEXT, f"{canonical} {' '.join(sentences)}" if sentences else canonical)
        clauses = [c for sentence in asking for c in sentence] if asking else clauses_of(text)
        message.set(ASKING_CLAUSES, clauses or [canonical])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._rewrite(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._rewrite(message)
        return messages
