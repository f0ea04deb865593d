"""A Rasa component that tells which parts of a procedure a question asks about (its aspects).

Two signals: anchors, the catalog's headings and their everyday words (aspects.yml), found in
the canonical text, several allowed, in the order asked; and, for a message with no anchor, a
one-vs-rest logistic regression over the same sparse features as the intent classifier,
trained on the question examples (their intent names the aspects). Only a message whose act is
a question about a procedure gets aspects; one that continues the question before ("còn lệ phí
thì sao") also gets a `follow_up` entity. Weights are saved as numpy arrays (no pickle).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack

from nlu.acts import ACT_WORDS_FILE, ASPECTS, ASPECTS_FILE, QUESTION_INTENT, ActWords, AspectWords, PhraseSet, asking_sentences
from nlu.components.normalizer import ORIGINAL_TEXT

ASPECTS_KEY = "aspects"
FOLLOW_UP = "follow_up"
RULE_QUESTION = "rule_question"
PART_NAMED = "part_named"


def _features(messages: List[Message]) -> csr_matrix:
    rows = []
    for message in messages:
        parts = [
            f.features for f in message.features
            if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()
        ]
        if not parts:
            raise ValueError("AspectClassifier: no sparse sentence features; put it after the featurisers")
        rows.append(hstack(parts, format="csr") if len(parts) != 1 else csr_matrix(parts[0]))
    return vstack(rows, format="csr") if len(rows) != 1 else rows[0]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class AspectClassifier(GraphComponent):
    """Adds `aspects`: the parts of a procedure the question asks about (names from nlu/acts.py)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # YAML of the aspects: which training intent teaches which, and each one's anchors
            "aspects": str(ASPECTS_FILE),
            # YAML whose question_words tell the sentences that ask from the story around them
            "act_words": str(ACT_WORDS_FILE),
            # the act whose messages get aspects (the intent classifier's question intent)
            "question_intent": QUESTION_INTENT,
            # without an anchor, every aspect at least this probable (at least the best one)
            "threshold": 0.5,
            # a weak anchor (aspects.yml) counts when the classifier gives its aspect at least this
            "weak_floor": 0.3,
            # an anchored aspect the classifier gives less than this is a word in passing, not asked
            # (the best anchored one is always kept)
            "anchor_floor": 0.2,
            # a follow-up naming no part carries the part asked before when it is a chat line
            # this short (a story that ends "thì sao" says what it asks)
            "follow_up_words": 12,
            # inverse regularisation strength of the logistic regressions
            "C": 1.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        full = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        for key in ("aspects", "act_words"):
            try:
                digest.update(Path(full[key]).read_bytes())
            except OSError:
                digest.update(f"missing {full[key]}".encode())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        unknown = set(config) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"AspectClassifier: unknown option(s) {sorted(unknown)}")
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._words = AspectWords({}, {})
        self._matcher = self._words.matcher()
        self._weak = self._words.weak_matcher()
        self._question_words: List[str] = []
        self._asking = PhraseSet([])
        self._classes: List[str] = []
        self._coef = np.zeros((0, 0))
        self._intercept = np.zeros(0)

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> AspectClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        words = AspectWords.from_yaml(Path(self.config["aspects"]))
        self._words = words
        self._matcher = words.matcher()
        self._weak = words.weak_matcher()
        self._question_words = ActWords.from_yaml(Path(self.config["act_words"])).question_words
        self._asking = PhraseSet(self._question_words)
        examples, labels = [], []
        for example in training_data.intent_examples:
            aspects = words.aspects_of(example.get(INTENT))
            if aspects and example.get(TEXT):
                examples.append(example)
                labels.append(set(aspects))
        self._classes = [a for a in ASPECTS if any(a in label for label in labels)]
        if examples:
            X = _features(examples)
            coef, intercept = [], []
            for aspect in self._classes:
                y = np.array([aspect in label for label in labels], dtype=int)
                clf = LogisticRegression(C=float(self.config["C"]), max_iter=300, class_weight="balanced")
                clf.fit(X, y)
                coef.append(clf.coef_[0])
                intercept.append(clf.intercept_[0])
            self._coef, self._intercept = np.array(coef), np.array(intercept)
        with self._storage.write_to(self._resource) as model_dir:
            np.savez(
                model_dir / "aspects.npz",
                coef=self._coef,
                intercept=self._intercept,
                classes=np.array(self._classes, dtype=str),
                words=np.array(json.dumps(self._words.__dict__, ensure_ascii=False)),
                question_words=np.array(json.dumps(self._question_words, ensure_ascii=False)),
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> AspectClassifier:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / "aspects.npz", allow_pickle=False) as saved:
                    component._coef, component._intercept = saved["coef"], saved["intercept"]
                    component._classes = [str(c) for c in saved["classes"]]
                    component._words = AspectWords(**json.loads(str(saved["words"])))
                    component._question_words = json.loads(str(saved["question_words"]))
        except (ValueError, FileNotFoundError, KeyError, TypeError) as e:
            raise ValueError(f"AspectClassifier: the model has no trained aspects ({resource.name}): {e}") from e
        component._matcher = component._words.matcher()
        component._weak = component._words.weak_matcher()
        component._asking = PhraseSet(component._question_words)
        return component

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        """P(aspect asked) per message and aspect (self._classes order)."""
        if not self._classes or not messages:
            return np.zeros((len(messages), len(self._classes)))
        scores = _features(messages) @ self._coef.T + self._intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(scores)))

    def asking_part(self, original: str, canonical: str) -> str:
        """The sentences that ask, canonical; the whole text when it is one sentence or all ask."""
        chosen = asking_sentences(original, self._asking)
        return " ".join(chosen) if chosen else canonical

    def aspects(self, canonical: str, probabilities: np.ndarray) -> List[str]:
        """The anchors' aspects when there are any, most probable first, else the classifier's.

        Where several are anchored, the classifier says which is asked: in "nộp online thì phí
        bao nhiêu" online is how, the fee is what.
        """
        anchored = self._matcher.find(canonical)
        if not self._classes:
            return anchored
        p = {a: float(probabilities[i]) for i, a in enumerate(self._classes)}
        weak = [a for a in self._weak.find(canonical) if a not in anchored and p.get(a, 0.0) >= self.config["weak_floor"]]
        anchored += weak
        if anchored:
            p = {a: p.get(a, 0.0) for a in anchored}
            ranked = sorted(anchored, key=lambda a: -p[a])
            return [a for i, a in enumerate(ranked) if i == 0 or p[a] >= self.config["anchor_floor"]]
        # An aspect given only by its anchors (the legal basis) is never guessed; a message the
        # classifier is sure asks it, and nothing else, asks what a rule says: no aspect at all.
        order = [self._classes[i] for i in np.argsort(-probabilities)]
        sure = [a for a in order if p[a] >= self.config["threshold"]]
        kept = [a for a in sure if a not in self._words.anchored_only]
        if kept or sure:
            return kept
        return [next((a for a in order if a not in self._words.anchored_only), order[0])]

    def process(self, messages: List[Message]) -> List[Message]:
        # Every message gets its aspects (the parse keeps them for a question only): a message the
        # classifier reads as out of scope may still turn out to be a question (nlu/model.py).
        if not messages:
            return messages
        for message, row in zip(messages, self.probabilities(messages)):
            canonical = message.get(TEXT) or ""
            asking = self.asking_part(message.get(ORIGINAL_TEXT) or canonical, canonical)
            aspects = self.aspects(asking, row)
            # asks what a rule says, not which text says it (aspects.yml, anchored_only)
            rule = not aspects
            follow_up = self._words.is_follow_up(canonical)
            named = bool(self._matcher.find(asking))
            if follow_up and len(canonical.split()) <= self.config["follow_up_words"] and not named:
                # "còn trên 14 tuổi thì sao" names no part: it asks the part asked before, which
                # the conversation knows (the flows keep it when the intent implies none)
                aspects, rule = [], False
            message.set(ASPECTS_KEY, aspects, add_to_output=True)
            message.set(RULE_QUESTION, rule, add_to_output=True)
            # whether the words name a part (an anchor), or the aspects are the classifier's guess
            message.set(PART_NAMED, named, add_to_output=True)
            if (message.get(INTENT) or {}).get("name") == self.config["question_intent"] and follow_up:
                entity = {"entity": FOLLOW_UP, "value": "true", "start": 0, "end": 0, "extractor": type(self).__name__}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
