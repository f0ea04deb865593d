import pytest

from nlu.evaluate import HeldOutExample, Prediction, intent_report, percentile, read_heldout, report, score


def _example(text, intent, codes=(), diacritics=True):
    return HeldOutExample(text=text, intent=intent, codes=tuple(codes), diacritics=diacritics)


# Six utterances, worked out by hand:
#   greet: gold 2, predicted 3 (2 right)  -> P 2/3, R 1,   F1 0.8
#   thank: gold 2, predicted 1 (1 right)  -> P 1,   R 1/2, F1 2/3
#   ask_fee: gold 2, predicted 2 (2 right) -> P 1,  R 1,   F1 1
# accuracy 5/6, macro F1 (0.8 + 0.6667 + 1) / 3 = 0.8222
EXAMPLES = [
    _example("xin chào", "greet"),
    _example("chao ban", "greet", diacritics=False),
    _example("cảm ơn", "thank"),
    _example("cam on", "thank", diacritics=False),
    _example("lệ phí khai sinh", "ask_fee", ["1.001193"]),
    _example("le phi ho chieu", "ask_fee", ["1.001456", "1.001471"], diacritics=False),
]
PREDICTIONS = [
    Prediction("greet", confidence=0.9),
    Prediction("greet", confidence=0.4),
    Prediction("thank", confidence=0.5),
    Prediction("greet", confidence=0.9),
    Prediction("ask_fee", ("1.001193", "1.000689"), confidence=0.8),
    Prediction("ask_fee", ("1.014062", "1.012549", "1.001471"), confidence=0.7),
]


def test_per_intent_precision_recall_and_f1_are_worked_out_from_the_pairs():
    pairs = [(e.intent, p.intent) for e, p in zip(EXAMPLES, PREDICTIONS)]
    per_intent, macro = intent_report(pairs)
    assert per_intent["greet"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert per_intent["thank"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert per_intent["ask_fee"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert macro == pytest.approx(0.8222, abs=1e-4)


def test_an_intent_only_ever_predicted_counts_as_zero_in_the_macro_mean():
    per_intent, macro = intent_report([("greet", "greet"), ("thank", "out_of_scope")])
    assert per_intent["out_of_scope"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert macro == pytest.approx(1 / 3, abs=1e-4)


def test_accuracy_and_procedure_ranks_are_split_by_diacritics():
    result = score(EXAMPLES, PREDICTIONS)
    assert result["all"]["intent_accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    assert result["all"]["macro_f1"] == pytest.approx(0.8222, abs=1e-4)
    assert result["with_diacritics"]["n"] == 3
    assert result["with_diacritics"]["intent_accuracy"] == 1.0
    assert result["without_diacritics"]["intent_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["no_diacritics_gap"] == pytest.approx(1 - 0.6667, abs=1e-4)
    # right but below the 0.5 the flows require: "chao ban" at 0.4
    assert result["all"]["confident_accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert result["without_diacritics"]["confident_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    # "le phi ho chieu": any gold code counts; the third candidate is one.
    assert result["all"]["procedure"] == {"n": 2, "top1": 0.5, "top3": 1.0}
    assert result["without_diacritics"]["procedure"] == {"n": 1, "top1": 0.0, "top3": 1.0}
    assert result["procedure_misses"] == [
        {"text": "le phi ho chieu", "expected": ["1.001456", "1.001471"], "got": ["1.014062", "1.012549", "1.001471"]}
    ]


def test_confusions_are_counted_by_gold_and_predicted_intent_with_examples():
    examples = [_example(f"cam on {i}", "thank") for i in range(5)] + [_example("hi", "greet")]
    predictions = [Prediction("greet")] * 4 + [Prediction(None), Prediction("thank")]
    confusions = score(examples, predictions)["confusions"]
    assert [(c["gold"], c["predicted"], c["count"]) for c in confusions] == [
        ("thank", "greet", 4),
        ("greet", "thank", 1),
        ("thank", "<none>", 1),
    ]
    assert confusions[0]["examples"] == ["cam on 0", "cam on 1", "cam on 2"]


def test_a_split_with_no_examples_has_no_figures():
    result = score([_example("xin chào", "greet")], [Prediction("greet")])
    assert result["without_diacritics"]["intent_accuracy"] is None
    assert result["without_diacritics"]["procedure"]["top1"] is None
    assert result["no_diacritics_gap"] is None
    assert "without diacritics" in report(result)


def test_predictions_must_match_the_examples_one_to_one():
    with pytest.raises(ValueError, match="2 examples but 1 predictions"):
        score(EXAMPLES[:2], PREDICTIONS[:1])


def test_the_held_out_file_is_read_with_one_code_several_or_none(tmp_path):
    path = tmp_path / "heldout.yml"
    path.write_text(
        "- {text: 'lệ phí khai sinh', intent: ask_fee, code: '1.001193', diacritics: true, tags: []}\n"
        "- {text: 'le phi ho chieu', intent: ask_fee, code: ['1.001456', '1.001471'], diacritics: false, tags: [abbrev]}\n"
        "- {text: 'xin chào', intent: greet, code: null, diacritics: true, tags: []}\n",
        encoding="utf-8",
    )
    first, second, third = read_heldout(path)
    assert first.codes == ("1.001193",) and first.diacritics
    assert second.codes == ("1.001456", "1.001471") and not second.diacritics and second.tags == ("abbrev",)
    assert third.codes == ()


@pytest.mark.parametrize("content", ["[]\n", "- {text: '', intent: greet}\n", "- {text: 'hi'}\n", "just text\n"])
def test_a_malformed_held_out_file_is_refused(tmp_path, content):
    path = tmp_path / "heldout.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        read_heldout(path)


def test_percentiles_use_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([], 0.95) == 0.0


def test_a_walk_through_request_read_as_a_question_about_the_online_way_is_counted_both_ways():
    examples = [_example("khai sinh online thế nào", "ask_howto_online"), _example("nộp online cho tôi", "ask_howto_online")]
    predictions = [Prediction("ask_procedure", aspects=("online",)), Prediction("ask_procedure", aspects=("fee",))]
    result = score(examples, predictions)
    assert result["all"]["intent_accuracy"] == 0.0
    assert result["all"]["accuracy_online_question_right"] == 0.5
    assert "as right: 50.0%" in report(result)
