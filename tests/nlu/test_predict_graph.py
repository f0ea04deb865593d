"""Loading the model for prediction leaves TensorFlow and the training machinery out."""

import json
import subprocess
import sys

# Runs in a fresh interpreter: the test process may have imported anything already.
PROBE = """
import json, sys
from pathlib import Path
from nlu.model import NluModel

model = NluModel.load(Path(sys.argv[1]).parent, Path(sys.argv[1]))
result = model.parse_sync("làm giấy khai sinh cần giấy tờ gì")
before = {name: name in sys.modules for name in ("tensorflow", "rasa.core.agent", "rasa.nlu.extractors.crf_entity_extractor")}
# Training in the same process must still find every component the light recipe saw.
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
import rasa.utils.train_utils
print(json.dumps({
    "intent": result.intent,
    "procedure": result.procedures[0].code if result.procedures else None,
    "imported_before": before,
    "registered": sorted(DefaultV1Recipe._registered_components),
    "found_for_training": [DefaultV1Recipe._from_registry(n).clazz.__name__ for n in ("WhitespaceTokenizer", "DIETClassifier")],
    "train_utils_works": callable(rasa.utils.train_utils.rank_and_mask),
}))
"""


def test_a_model_loads_without_tensorflow_and_training_still_finds_the_components(nlu_model, project_root):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(nlu_model.path)],
        cwd=project_root, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["intent"] == "ask_documents"
    assert report["procedure"] == "1.001193"
    assert report["imported_before"] == {
        "tensorflow": False, "rasa.core.agent": False, "rasa.nlu.extractors.crf_entity_extractor": False
    }
    for name in ("VietnameseNormalizer", "WhitespaceTokenizer", "CountVectorsFeaturizer",
                 "ArrayLogisticRegressionClassifier", "ProcedureLinker", "RegexMessageHandler"):
        assert name in report["registered"]
    assert report["found_for_training"] == ["WhitespaceTokenizer", "DIETClassifier"]
    assert report["train_utils_works"]
