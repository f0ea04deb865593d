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
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.preprocessing import normalize as unit_rows

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
        }

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource) -> None:
        full = {**self.get_default_config(), **config}
        unknown = set(full) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)}")
        if full["scaling"] not in _SCALINGS:
            raise ValueError(f"{type(self).__name__}: scaling must be one of {_SCALINGS}, got {full['scaling']!r}")
        super().__init__(full, name, model_storage, resource)
        self.clf.set_params(C=float(full["C"]))

    def process(self, messages: List[Message]) -> List[Message]:
        messages = super().process(messages)
        source = self.config["known_words_from"]
        if source:
            for message in messages:
                if not self._knows_a_word(message, source):
                    intent = {**message.get(INTENT), "confidence": 0.0}
                    ranking = [{**r, "confidence": 0.0} for r in message.get("intent_ranking", [])]
                    message.set(INTENT, intent, add_to_output=True)
                    message.set("intent_ranking", ranking, add_to_output=True)
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
        # The same matrix as Rasa's (sentence features of the text, sparse then dense, in
        # the order the featurisers added them) without combining the sequence features
        # too and stacking an empty dense block: ~3 ms less per message.
        rows = []
        for message in messages:
            parts = [
                f.features
                for f in message.features
                if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()
            ]
            parts += [
                csr_matrix(f.features)
                for f in message.features
                if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_dense()
            ]
            rows.append(hstack(parts, format="csr") if len(parts) != 1 else csr_matrix(parts[0]))
        features = vstack(rows, format="csr") if len(rows) != 1 else rows[0]
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
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"{cls.__name__}: the model has no trained weights ({resource.name}): {e}") from e
        component.clf.n_features_in_ = component.clf.coef_.shape[1]
        return component
