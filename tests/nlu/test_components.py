"""The custom Rasa components' own logic, without training a model."""

import numpy as np
import pytest
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import coo_matrix

from nlu.components.intent_classifier import ArrayLogisticRegressionClassifier
from nlu.components.normalizer import VietnameseNormalizer
from nlu.components.procedure_linker import ProcedureLinker


def _classifier(**config):
    return ArrayLogisticRegressionClassifier(config, "classifier", None, None)


def _message(words: list[int], chars: list[int]) -> Message:
    message = Message(data={TEXT: "x"})
    for origin, counts in (("words", words), ("chars", chars)):
        row = coo_matrix(np.array([counts], dtype=float))
        message.add_features(Features(row, FEATURE_TYPE_SENTENCE, TEXT, origin))
        message.add_features(Features(coo_matrix(np.ones((2, len(counts)))), FEATURE_TYPE_SEQUENCE, TEXT, origin))
    return message


def test_the_feature_matrix_is_the_one_rasa_builds():
    messages = [_message([1, 0, 2], [0, 3]), _message([0, 1, 0], [1, 1])]
    ours = _classifier()._create_X(messages)
    rasas = LogisticRegressionClassifier._create_X(_classifier(), messages)
    assert ours.shape == rasas.shape == (2, 5)
    assert (ours != rasas).nnz == 0


def test_log_l2_scaling_gives_each_message_unit_length():
    features = _classifier(scaling="log_l2")._create_X([_message([1, 0, 4], [0, 1])]).toarray()[0]
    expected = np.array([1.0, 0.0, 1 + np.log(4), 0.0, 1.0])
    assert features == pytest.approx(expected / np.linalg.norm(expected))


@pytest.mark.parametrize(
    "config, message", [({"scaling": "tfidf"}, "scaling must be one of"), ({"penalty": "l1"}, "unknown option")]
)
def test_a_bad_classifier_option_fails_loudly(config, message):
    with pytest.raises(ValueError, match=message):
        _classifier(**config)


def test_the_classifier_uses_the_configured_regularisation():
    assert _classifier(C=30).clf.C == 30.0


def test_a_changed_word_list_changes_the_training_fingerprint(tmp_path):
    lexicon = tmp_path / "lexicon.yml"
    lexicon.write_text("không: [ko]\n", encoding="utf-8")
    before = (VietnameseNormalizer.fingerprint_addon({"lexicon": str(lexicon)}),
              ProcedureLinker.fingerprint_addon({"lexicon": str(lexicon)}))
    lexicon.write_text("không: [ko, k]\n", encoding="utf-8")
    after = (VietnameseNormalizer.fingerprint_addon({"lexicon": str(lexicon)}),
             ProcedureLinker.fingerprint_addon({"lexicon": str(lexicon)}))
    assert before[0] != after[0] and before[1] != after[1]
    assert ProcedureLinker.fingerprint_addon({}) == ProcedureLinker.fingerprint_addon({})


def _tokens(origin: str, rows: list[list[int]]) -> Message:
    message = Message(data={TEXT: "x"})
    message.add_features(Features(coo_matrix(np.array(rows, dtype=float)), FEATURE_TYPE_SEQUENCE, TEXT, origin))
    return message


def test_a_message_is_known_when_one_of_its_words_has_a_feature():
    assert ArrayLogisticRegressionClassifier._knows_a_word(_tokens("word_counts", [[0, 0], [0, 1]]), "word_counts")
    assert not ArrayLogisticRegressionClassifier._knows_a_word(_tokens("word_counts", [[0, 0], [0, 0]]), "word_counts")


def test_the_known_words_option_must_name_a_featuriser_of_the_pipeline():
    with pytest.raises(ValueError, match="aliased 'words'"):
        ArrayLogisticRegressionClassifier._knows_a_word(_tokens("word_counts", [[1]]), "words")
