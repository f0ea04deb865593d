"""Load a trained Rasa model's predict graph without Rasa's training machinery.

`rasa.engine.loader.load_predict_graph_runner` deserialises the *train* schema too,
whose validator imports every Rasa component (CRF, MITIE, rasa.nlu.test, the agent),
and every component module imports `rasa.engine.recipes.default_recipe`, which imports
the dialogue policies and through them TensorFlow: 3-4 s and ~400 MB of a cold start
for a model that never touches TensorFlow. So here:

- only the predict schema is read from the archive's metadata.json;
- while its component classes are imported, `default_recipe` is a light stand-in
  (the `register` decorator and its enum: all a component module needs to be
  defined) and `rasa.utils.train_utils` is deferred until first used (it imports
  TensorFlow for training callbacks). When the real recipe is imported later in the
  same process (to train), the classes registered with the stand-in are registered
  with it, so training still finds them.

A model whose components need TensorFlow (DIET) still loads: they import it themselves.
"""

from __future__ import annotations

import enum
import importlib
import importlib.abc
import importlib.machinery
import json
import sys
import tempfile
import threading
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

RECIPE_MODULE = "rasa.engine.recipes.default_recipe"
TRAIN_UTILS_MODULE = "rasa.utils.train_utils"
_lock = threading.Lock()
# (class, component type names, is_trainable, model_from) registered with the stand-in.
_registered: list[tuple[type, tuple[str, ...], bool, Optional[str]]] = []


class _ComponentType(enum.Enum):
    """Same names and values as DefaultV1Recipe.ComponentType."""

    MESSAGE_TOKENIZER = 0
    MESSAGE_FEATURIZER = 1
    INTENT_CLASSIFIER = 2
    ENTITY_EXTRACTOR = 3
    POLICY_WITHOUT_END_TO_END_SUPPORT = 4
    POLICY_WITH_END_TO_END_SUPPORT = 5
    MODEL_LOADER = 6


class _LightRecipe:
    """Stands in for DefaultV1Recipe while component modules are imported for prediction."""

    name = "default.v1"
    ComponentType = _ComponentType

    @classmethod
    def register(cls, component_types: Any, is_trainable: bool, model_from: Optional[str] = None) -> Callable[[type], type]:
        kinds = component_types if isinstance(component_types, (list, tuple, set)) else [component_types]

        def decorator(registered_class: type) -> type:
            _registered.append((registered_class, tuple(k.name for k in kinds), is_trainable, model_from))
            return registered_class

        return decorator


class _ReplayRegistrations(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """When the real default recipe is imported, registers the classes the stand-in saw."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != RECIPE_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        self._real_loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return self._real_loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._real_loader.exec_module(module)  # type: ignore[attr-defined]
        recipe = module.DefaultV1Recipe
        for registered_class, kinds, is_trainable, model_from in _registered:
            recipe.register([recipe.ComponentType[k] for k in kinds], is_trainable, model_from)(registered_class)


class _DeferredModule(types.ModuleType):
    """A module imported for real the first time one of its attributes is used."""

    def __getattr__(self, attribute: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


@contextmanager
def _light_component_imports() -> Iterator[None]:
    """Component modules imported inside see the light recipe and a deferred train_utils."""
    installed = []
    if RECIPE_MODULE not in sys.modules:
        stand_in = types.ModuleType(RECIPE_MODULE, "Light stand-in for prediction (nlu.predict_graph).")
        stand_in.DefaultV1Recipe = _LightRecipe  # type: ignore[attr-defined]
        sys.modules[RECIPE_MODULE] = stand_in
        installed.append(RECIPE_MODULE)
    if TRAIN_UTILS_MODULE not in sys.modules:
        import rasa.utils

        deferred = _DeferredModule(TRAIN_UTILS_MODULE)
        sys.modules[TRAIN_UTILS_MODULE] = deferred
        # `import rasa.utils.train_utils` then `rasa.utils.train_utils.f()` goes through the package.
        rasa.utils.train_utils = deferred  # type: ignore[attr-defined]
        installed.append(TRAIN_UTILS_MODULE)
    try:
        yield
    finally:
        if RECIPE_MODULE in installed:
            del sys.modules[RECIPE_MODULE]
            if not any(isinstance(f, _ReplayRegistrations) for f in sys.meta_path):
                sys.meta_path.insert(0, _ReplayRegistrations())
        # The deferred train_utils stays: modules imported above hold it.


@dataclass
class PredictGraph:
    """A loaded predict graph: run it on messages for the NLU target."""

    runner: Any
    nlu_target: str
    model_id: str


def load_predict_graph(archive: Path, storage: Optional[Path] = None) -> PredictGraph:
    """Unpacks the model archive into storage (a new temporary folder by default) and loads its predict graph."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage = storage or Path(tempfile.mkdtemp(prefix="nlu-model-"))
    with tempfile.TemporaryDirectory(prefix="nlu-archive-") as unpacked:
        # Rasa's own unpacking (safe tar extraction, refuses Rasa 2 archives).
        LocalModelStorage._extract_archive_to_directory(archive, Path(unpacked))
        LocalModelStorage._initialize_model_storage_from_model_archive(Path(unpacked), storage)
        metadata = json.loads((Path(unpacked) / "metadata.json").read_text(encoding="utf-8"))
    with _lock, _light_component_imports():
        schema = GraphSchema.from_dict(metadata["predict_schema"])
        runner = DaskGraphRunner.create(
            graph_schema=schema,
            model_storage=LocalModelStorage(storage),
            execution_context=ExecutionContext(graph_schema=schema, model_id=metadata["model_id"]),
        )
    return PredictGraph(runner, metadata["nlu_target"], metadata["model_id"])
