"""Rasa's logistic-regression intent classifier, persisted as plain arrays.

Rasa 3.6 stores the sklearn model with skops, whose loader imports every sklearn
estimator to build its trust list: 6.6 s of a cold start on this 2-core machine.
The weights are three arrays, so they go in an .npz file (no pickle at all) and
loading takes milliseconds.
"""

from __future__ import annotations

from typing import Any, Dict, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ArrayLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Logistic regression over the sparse features; weights saved as numpy arrays."""

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
