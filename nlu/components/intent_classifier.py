"""Rasa's logistic-regression intent classifier, persisted as plain arrays.

Rasa 3.6 stores the sklearn model with skops, whose loader imports every sklearn
estimator to build its trust list: 6.6 s of a cold start on this 2-core machine.
The weights are three arrays, so they go in an .npz file (no pickle at all) and
loading takes milliseconds.

Options Rasa's class lacks: the regularisation strength `C`; scaling the count
features (log of the counts, then unit length per message) so that a long, rambling
message weighs as much as a short one; and a message none of whose words the model
has ever seen ("qwrtpz vbnmx") is not understood, whatever intent its letters happen
to resemble: its confidences are 0, so the flows ask the user to say it differently.

It classifies the act, not the part asked: every question intent of the training data
(aspects.yml: ask_documents, ask_fee, ... and combinations "ask_fee+ask_processing_time")
is learnt as one act, `ask_procedure`; the aspect classifier tells the parts apart. And
acts need their own words (act_words.yml): a message read as a complaint, a request for a
person or an online submission that has none of that act's words but asks something is a
question; where the question is a close second to such an act, the question wins too.

It decides the act in one place, after the linker and the aspect classifier (config.yml), with
what they found: a message naming a procedure that it is unsure is a question or out of scope is
a question; a "question" that asks only what a rule says, or asks about a penalty or a right
(act_words.yml, rule_words), is out of scope; a message that asks nothing and says an act outright
(act_words.yml, outright) is that act; a message naming a part of a procedure is no small talk;
a procedure's name alone is a question about it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from sklearn.preprocessing import normalize as unit_rows

from knowledge import link_decision
from nlu.acts import ACT_WORDS_FILE, ASPECTS_FILE, QUESTION_INTENT, ActWords, AspectWords, PhraseSet
from nlu.components.aspect_classifier import BARE_NAME, FOLLOW_UP, PART_NAMED, PROCEDURES, RULE_QUESTION, sentence_features
from nlu.components.normalizer import ASKING_CLAUSES, ORIGINAL_TEXT

_SCALINGS = ("none", "log_l2")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ArrayLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Logistic regression over the sparse features; weights saved as numpy arrays."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            # inverse regularisation strength (sklearn's C): higher fits the examples closer
            "C": 1.0,
            # feature scaling: "none" (raw counts, as Rasa) or "log_l2" (1 + log count, unit length)
            "scaling": "none",
            # alias of the word-level featuriser; a message with no word it knows gets
            # confidence 0 for every intent (null: always trust the classifier)
            "known_words_from": None,
            # YAML mapping the training data's question intents to aspects (they are learnt as one act)
            "aspects": str(ASPECTS_FILE),
            # the act every question about a procedure is learnt as (null: keep the question intents apart)
            "question_intent": QUESTION_INTENT,
            # YAML of each guarded act's own words and of the words that ask (null: no guard)
            "act_words": str(ACT_WORDS_FILE),
            # a guarded act wins over the question only when the question has less than this share of its confidence
            "question_wins_ratio": 0.5,
            # with a procedure named, the question wins over out of scope at this share of its confidence
            # (0.5 and 0.3 compared on nlu_heldout.yml: 0.3 one better)
            "question_over_scope": 0.3,
            # the confidence given to a reading the words decide against the classifier (above the flows' 0.5)
            "unsure": 0.75,
            # below this confidence the flows do not act on the classifier's reading (nlu/evaluate.py)
            "understood": 0.5,
            # intents that are never a question naming a part of a procedure
            "small_talk": ["greet", "help", "goodbye", "thank", "affirm", "deny", "bot_challenge", "subscribe_status"],
            # the intent of a message no procedure of the catalog answers
            "out_of_scope_intent": "out_of_scope",
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        # The word lists are neither config nor training data: a changed list must retrain.
        full = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        for key in ("aspects", "act_words"):
            if full[key]:
                try:
                    digest.update(Path(full[key]).read_bytes())
                except OSError:
                    digest.update(f"missing {full[key]}".encode())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource) -> None:
        full = {**self.get_default_config(), **config}
        unknown = set(full) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)}")
        if full["scaling"] not in _SCALINGS:
            raise ValueError(f"{type(self).__name__}: scaling must be one of {_SCALINGS}, got {full['scaling']!r}")
        super().__init__(full, name, model_storage, resource)
        self.clf.set_params(C=float(full["C"]))
        self._question_intents: Dict[str, str] = {}
        self._act_words = ActWords({}, [])
        self._act_sets: Dict[str, PhraseSet] = {}
        self._asking = PhraseSet([])
        self._written: Dict[str, PhraseSet] = {}
        self._needed: Dict[str, PhraseSet] = {}
        self._outright: Dict[str, PhraseSet] = {}
        self._rule_words = PhraseSet([])

    def _read_word_lists(self) -> None:
        if self.config["question_intent"]:
            aspects = AspectWords.from_yaml(Path(self.config["aspects"]))
            self._question_intents = {i: self.config["question_intent"] for i in aspects.intents}
        if self.config["act_words"]:
            self._use_act_words(ActWords.from_yaml(Path(self.config["act_words"])))

    def _use_act_words(self, words: ActWords) -> None:
        self._act_words = words
        self._act_sets, self._asking = words.sets()
        self._written = words.written_sets()
        self._needed = words.needed_sets()
        self._outright = words.outright_sets()
        self._rule_words = PhraseSet(words.rule_words)

    def act_of(self, intent: Optional[str]) -> Optional[str]:
        """The act a training intent teaches: a question intent (or a "+" combination of them) is the question."""
        if intent and self._question_intents and all(p in self._question_intents for p in intent.split("+")):
            return str(self.config["question_intent"])
        return intent

    def _create_training_matrix(self, training_data: TrainingData) -> Any:
        X, y = super()._create_training_matrix(training_data)
        return X, [self.act_of(label) for label in y]

    def train(self, training_data: TrainingData) -> Resource:
        self._read_word_lists()
        return super().train(training_data)

    def _arbitrate(self, message: Message, ranking: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Acts need their own words; between a question and an act it is unsure of, the question wins.

        An act that lacks a word it needs (act_words.yml, needs_one_of) is never it; in a message
        that asks (a "?", a question word, a formal request for an answer), neither is an act
        without its own words, nor one asked for in writing ("Đề nghị hướng dẫn … thế nào?").
        """
        if not self._act_sets or not ranking:
            return ranking
        canonical = message.get(TEXT) or ""
        confidence = {r["name"]: r["confidence"] for r in ranking}
        dropped = {name for name, words in self._needed.items() if name in confidence and canonical not in words}
        asks = self._asks(message)
        question = self.config["question_intent"]
        if asks:
            dropped |= {
                name for name, words in self._act_sets.items()
                if name in confidence and (canonical not in words or canonical in self._written.get(name, ()))
            }
        top = max(confidence, key=lambda n: confidence[n])
        if asks and top in self._act_sets and top not in dropped and question in confidence:
            if confidence[question] >= self.config["question_wins_ratio"] * confidence[top]:
                dropped.add(top)
        if top not in dropped:
            return ranking
        kept = [r for r in ranking if r["name"] not in dropped]
        total = sum(r["confidence"] for r in kept) or 1.0
        rescaled = [{**r, "confidence": r["confidence"] / total} for r in kept]
        silenced = [{**r, "confidence": 0.0} for r in ranking if r["name"] in dropped]
        return sorted(rescaled, key=lambda r: -r["confidence"]) + silenced

    def _asks(self, message: Message, canonical: Optional[str] = None) -> bool:
        """Whether a message asks: a "?", a question word or a formal request for an answer."""
        canonical = (message.get(TEXT) or "") if canonical is None else canonical
        written = any(canonical in words for words in self._written.values())
        return "?" in (message.get(ORIGINAL_TEXT) or "") or canonical in self._asking or written

    def _said_outright(self, message: Message) -> Optional[str]:
        """The act a message that asks nothing says outright (act_words.yml, outright), if any.

        The act's own words are no question words ("bắt đầu nộp" holds "đầu", folded "đâu").
        """
        canonical = message.get(TEXT) or ""
        said = {a: words.find(canonical) for a, words in self._outright.items()}
        said = {a: hits for a, hits in said.items() if hits and (a not in self._needed or canonical in self._needed[a])}
        if len(said) != 1:
            return None
        act, hits = next(iter(said.items()))
        rest = canonical
        for start, phrase in hits:
            rest = rest[:start] + " " * len(phrase) + rest[start + len(phrase):]
        return None if self._asks(message, rest) else act

    def _decide(self, message: Message, ranking: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The act, with what the linker and the aspect classifier found (see the module docstring)."""
        question, scope = self.config["question_intent"], self.config["out_of_scope_intent"]
        if not question or not ranking:
            return ranking
        confidence = {r["name"]: r["confidence"] for r in ranking}
        top = ranking[0]["name"]
        named = link_decision([float(p["score"]) for p in message.get(PROCEDURES) or []]) != "weak"
        # a penalty or a right asked (in the sentences that ask: a story may tell of a fine)
        asking = message.get(ASKING_CLAUSES) or [message.get(TEXT) or ""]
        rule = bool(message.get(RULE_QUESTION)) or any(clause in self._rule_words for clause in asking)
        asked = confidence.get(question, 0.0)
        unsure = ranking[0]["confidence"] < self.config["unsure"]
        chosen, decided = top, True
        outright = self._said_outright(message)
        if outright and outright != top:
            chosen = outright  # "bắt đầu nộp hồ sơ … nhé" asks nothing: it says what to do
        elif top == scope and named and asked >= self.config["question_over_scope"] * ranking[0]["confidence"]:
            chosen = question  # the catalog may answer it
        elif top in self.config["small_talk"] and message.get(PART_NAMED):
            chosen = question  # "cho mình hỏi các bước đăng ký hộ kinh doanh" names the part it asks
        elif message.get(PART_NAMED) and (
            (top == question and unsure)
            or (ranking[0]["confidence"] < self.config["understood"] and (named or top == scope))
            or (message.get(FOLLOW_UP) and top not in self._act_sets)
        ):
            # a question naming its part is understood however the classifier spreads its confidence:
            # "khai báo tạm vắng có bắt buộc không" names a procedure, "còn thời gian" continues one,
            # "bao nhiu tiền vậy" is no sure out of scope (a rule question is, below)
            chosen = question
        elif unsure and message.get(BARE_NAME) and top != "ask_howto_online":
            chosen = question  # "khai sinh": nothing but a procedure's name, a question however unsure
        else:
            decided = False
        if chosen == question and rule:
            chosen, decided = scope, True  # asks what a rule says, which no procedure answers (honest scope)
        if not decided:
            return ranking
        first = {"name": chosen, "confidence": max(confidence.get(chosen, 0.0), self.config["unsure"])}
        return [first, *(r for r in ranking if r["name"] != chosen)]

    def process(self, messages: List[Message]) -> List[Message]:
        if not messages:
            return messages
        probas = self.clf.predict_proba(self._create_X(messages))
        source = self.config["known_words_from"]
        for message, row in zip(messages, probas):
            ranking = sorted(
                ({"name": str(k), "confidence": float(v)} for k, v in zip(self.clf.classes_, row)),
                key=lambda e: -e["confidence"],
            )
            if source and not self._knows_a_word(message, source):
                # no word the model has seen: not understood, whatever its letters resemble
                ranking = [{**r, "confidence": 0.0} for r in ranking]
            else:
                ranking = self._decide(message, self._arbitrate(message, ranking))
            if self.config["ranking_length"] > 0:
                ranking = ranking[: self.config["ranking_length"]]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
            if ranking[0]["name"] == self.config["question_intent"] and message.get(FOLLOW_UP):
                # continues the question before: a flow waiting for free text lets it through
                entity = {"entity": FOLLOW_UP, "value": "true", "start": 0, "end": 0, "extractor": type(self).__name__}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    @staticmethod
    def _knows_a_word(message: Message, source: str) -> bool:
        """Whether any token of the text has a feature from that featuriser (one row per token)."""
        rows = [
            f.features
            for f in message.features
            if f.attribute == TEXT and f.type == FEATURE_TYPE_SEQUENCE and f.origin == source and f.is_sparse()
        ]
        if not rows:
            raise ValueError(f"ArrayLogisticRegressionClassifier: no word features from a featuriser aliased {source!r}")
        return any(row.nnz > 0 and abs(row).sum() > 0 for row in rows)

    def _create_X(self, messages: List[Message]) -> csr_matrix:
        features = sentence_features(messages)
        if self.config["scaling"] == "log_l2":
            features = csr_matrix(features, dtype=np.float64, copy=True)
            features.data = 1.0 + np.log(np.maximum(features.data, 1e-12))
            features = unit_rows(features)
        return features

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(
                model_dir / "weights.npz",
                coef=self.clf.coef_,
                intercept=self.clf.intercept_,
                classes=np.array(self.clf.classes_, dtype=str),
                act_words=np.array(json.dumps(self._act_words.__dict__, ensure_ascii=False)),
                question_intents=np.array(json.dumps(self._question_intents, ensure_ascii=False)),
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ArrayLogisticRegressionClassifier:
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / "weights.npz", allow_pickle=False) as weights:
                    component.clf.coef_ = weights["coef"]
                    component.clf.intercept_ = weights["intercept"]
                    component.clf.classes_ = weights["classes"].astype(object)
                    if "act_words" in weights:
                        component._use_act_words(ActWords(**json.loads(str(weights["act_words"]))))
                        component._question_intents = json.loads(str(weights["question_intents"]))
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"{cls.__name__}: the model has no trained weights ({resource.name}): {e}") from e
        component.clf.n_features_in_ = component.clf.coef_.shape[1]
        return component
