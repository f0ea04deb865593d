"""A Rasa component that tells which parts of a procedure a question asks about (its aspects).

Two signals: anchors, the catalog's headings and their everyday words (aspects.yml), found in
the asking clauses (the normaliser's), several allowed, in the order asked; and, for a message
with no anchor, a one-vs-rest logistic regression over the same sparse features as the intent
classifier, trained on the question examples (their intent names the aspects). It runs before
the intent classifier, which reads what it found: whether the words name a part (`part_named`),
whether the message asks only what a rule says (`rule_question`), whether it is a procedure's
name alone (`bare_name`, from the linker's scores) and whether it continues the question before
(`follow_up`, "còn lệ phí thì sao"). Weights are saved as numpy arrays (no pickle).
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
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from scipy.special import expit

from nlu.acts import ASPECTS, ASPECTS_FILE, AspectWords, typed_forms
from nlu.components.normalizer import ASKING_CLAUSES, ORIGINAL_TEXT

ASPECTS_KEY = "aspects"
FOLLOW_UP = "follow_up"
RULE_QUESTION = "rule_question"
PART_NAMED = "part_named"
BARE_NAME = "bare_name"
# the linker's output (nlu/components/procedure_linker.py), read for the bare-name rule
PROCEDURES = "procedures"


def sentence_features(messages: List[Message], dense: bool = True) -> csr_matrix:
    """One row per message: its sentence features, sparse then (if `dense`) dense, in the order
    the featurisers added them. Rasa's matrix, without combining the sequence features too and
    stacking an empty dense block (~3 ms less per message); the aspect classifier reads the same."""
    rows = []
    for message in messages:
        sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        parts = [f.features for f in sentence if f.is_sparse()]
        parts += [csr_matrix(f.features) for f in sentence if dense and f.is_dense()]
        if not parts:
            raise ValueError("no sentence features of the text: put the classifiers after the featurisers")
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
            # without an anchor, every aspect at least this probable (at least the best one)
            "threshold": 0.5,
            # a weak anchor (aspects.yml) counts when the classifier gives its aspect at least this,
            # or when it is the only anchor of its clause ("…, có phải khai báo không, khai ở đâu")
            "weak_floor": 0.3,
            # an anchored aspect the classifier gives less than this is a word in passing, not asked
            # (the best anchored one is always kept)
            "anchor_floor": 0.2,
            # a follow-up naming no part carries the part asked before when it is a chat line
            # this short (a story that ends "thì sao" says what it asks)
            "follow_up_words": 12,
            # a message of at most this many words whose best linked procedure scores at least
            # bare_name_score is a procedure's name alone: a question about its common case
            "bare_name_words": 8,
            "bare_name_score": 0.9,
            # inverse regularisation strength of the logistic regressions
            "C": 1.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        full = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        try:
            digest.update(Path(full["aspects"]).read_bytes())
        except OSError:
            digest.update(f"missing {full['aspects']}".encode())
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
        self._fallback = self._words.fallback_matcher()
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
        self._fallback = words.fallback_matcher()
        examples, labels = [], []
        for example in training_data.intent_examples:
            aspects = words.aspects_of(example.get(INTENT))
            if aspects and example.get(TEXT):
                examples.append(example)
                labels.append(set(aspects))
        self._classes = [a for a in ASPECTS if any(a in label for label in labels)]
        if examples:
            X = sentence_features(examples, dense=False)
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
        except (ValueError, FileNotFoundError, KeyError, TypeError) as e:
            raise ValueError(f"AspectClassifier: the model has no trained aspects ({resource.name}): {e}") from e
        component._matcher = component._words.matcher()
        component._weak = component._words.weak_matcher()
        component._fallback = component._words.fallback_matcher()
        return component

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        """P(aspect asked) per message and aspect (self._classes order)."""
        if not self._classes or not messages:
            return np.zeros((len(messages), len(self._classes)))
        scores = sentence_features(messages, dense=False) @ self._coef.T + self._intercept
        return expit(np.asarray(scores))  # the logistic function, without overflow on long repeated text

    def anchored(self, clauses: List[str], p: Dict[str, float], forms: Optional[Dict[str, List[str]]] = None) -> List[str]:
        """The aspects the asking clauses name, in the order asked.

        Strong anchors count; a weak one counts when the classifier gives its aspect at least
        `weak_floor`, or when it is the only anchor of its clause (its own question: "…, có phải
        khai báo không, khai ở đâu"). Where an aspect is named, the phrases it absorbs belong to
        its answer ("mẫu tờ khai lấy ở đâu" asks for the form). Fallback anchors count when nothing
        else does ("cho hỏi thủ tục cấp lại bằng lái" asks the steps). Absorbing is within a clause.
        Anchors are checked on the words as typed (`forms`): "có căn cước" is no "có cần".
        """
        strong = [self._matcher.hits(clause, forms) for clause in clauses]
        hits: List[tuple] = []
        offset = 0
        absorbs = self._words.absorbs
        for clause, named_here in zip(clauses, strong):
            alone = not named_here and any(strong)  # its own question beside one that names a part
            weak = [(h, alone or p.get(h[1], 0.0) >= self.config["weak_floor"]) for h in self._weak.hits(clause, forms)]
            found = [(h, True) for h in named_here] + weak
            # every aspect the clause points at absorbs there, even one too weak to be asked itself
            named = {a for (_, a, _), _ in found}
            hits += [(offset + i, a, phrase) for (i, a, phrase), counts in found
                     if counts and not any(b != a and phrase in absorbs.get(b, ()) for b in named)]
            offset += len(clause) + 1
        hits.sort()
        if not hits:
            hits = self._fallback.hits(" ".join(clauses))
        return list(dict.fromkeys(a for _, a, _ in hits))

    def aspects(
        self,
        clauses: List[str],
        probabilities: np.ndarray,
        bare_name: bool = False,
        forms: Optional[Dict[str, List[str]]] = None,
    ) -> List[str]:
        """The anchors' aspects when there are any, most probable first, else the classifier's.

        Where several are anchored, the classifier says which is asked: in "nộp online thì phí
        bao nhiêu" online is how, the fee is what. A procedure's name alone ("đăng ký khai sinh")
        names no part: it asks the common case, the documents.
        """
        p = {a: float(probabilities[i]) for i, a in enumerate(self._classes)}
        anchored = self.anchored(clauses, p, forms)
        if not anchored and bare_name:
            return ["documents"]
        if not self._classes:
            return anchored
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

    def is_bare_name(self, message: Message) -> bool:
        """A short message the linker is sure names a procedure ("khai sinh", "ho chieu")."""
        procedures = message.get(PROCEDURES) or []
        top = float(procedures[0]["score"]) if procedures else 0.0
        words = len((message.get(ORIGINAL_TEXT) or message.get(TEXT) or "").split())
        return top >= self.config["bare_name_score"] and words <= self.config["bare_name_words"]

    def process(self, messages: List[Message]) -> List[Message]:
        # Every message gets its aspects (the parse keeps them for a question only): the intent
        # classifier, after this, decides the act with what is found here.
        if not messages:
            return messages
        for message, row in zip(messages, self.probabilities(messages)):
            canonical = message.get(TEXT) or ""
            clauses = message.get(ASKING_CLAUSES) or [canonical]
            bare_name = self.is_bare_name(message)
            # the spellings typed: a word typed with diacritics matches an anchor spelled so
            forms = typed_forms(message.get(ORIGINAL_TEXT) or canonical)
            aspects = self.aspects(clauses, row, bare_name, forms)
            # asks what a rule says, not which text says it (aspects.yml, anchored_only)
            rule = not aspects
            follow_up = self._words.is_follow_up(canonical)
            named = any(self._matcher.hits(clause, forms) for clause in clauses)
            if follow_up and len(canonical.split()) <= self.config["follow_up_words"] and not named:
                # "còn trên 14 tuổi thì sao" names no part: it asks the part asked before, which
                # the conversation knows (the flows keep it when the intent implies none)
                aspects, rule = [], False
            message.set(ASPECTS_KEY, aspects, add_to_output=True)
            message.set(RULE_QUESTION, rule, add_to_output=True)
            # whether the words name a part (an anchor), or the aspects are the classifier's guess
            message.set(PART_NAMED, named, add_to_output=True)
            message.set(BARE_NAME, bare_name)
            message.set(FOLLOW_UP, follow_up)
        return messages
