"""The engine's mechanics on a small flow set: collect, validate, digress, resume, cancel, expire."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flows.engine import ActionContext, EngineConfig, FlowEngine
from flows.registry import ActionRegistry
from nlu.result import ParseResult

RESPONSES = """\
cancelled: {text: "cancelled"}
nothing_to_cancel: {text: "nothing to cancel"}
flow_expired: {text: "expired"}
resume_offer: {text: "resume {flow_title}?"}
internal_error: {text: "sorry"}
hello: {text: "hello"}
ask_code: {text: "your code?"}
bad_code: {text: "bad code"}
done: {text: "code {code_slot} ok"}
faq: {text: "faq answer"}
sure: {text: "erase everything?"}
say_the_word: {text: "press Erase or type 'erase'"}
erased: {text: "erased"}
"""
FLOWS = {
    "fallback.yml": "id: fallback\ndescription: d\nsteps:\n  - say: hello\n",
    "status.yml": """\
id: status
title: tra cứu
description: collects a code
start: {intents: [check_status]}
slots: {code_slot: {type: text}}
steps:
  - collect: code_slot
    prompt: ask_code
    from_entity: code
    validate: check_code
    rejections:
      - {if: {status: invalid}, say: bad_code}
  - say: done
""",
    "faq.yml": "id: faq\ndescription: d\nstart: {intents: [ask_fee]}\nsteps:\n  - say: faq\n",
    "smalltalk.yml": "id: smalltalk\ndescription: d\nstart: {intents: [affirm], interrupts: false}\nsteps:\n  - say: hello\n",
    "erase.yml": """\
id: erase
description: deletes after an explicit yes
start: {intents: [erase_all]}
slots: {erase_choice: {type: text}}
steps:
  - collect: erase_choice
    prompt: sure
    validate: check_yes
    from_entity: choice
    explicit: true
    rejections:
      - {if: {status: invalid}, say: say_the_word}
  - action: erase
""",
    "boom.yml": "id: boom\ndescription: d\nstart: {intents: [explode]}\nsteps:\n  - action: explode\n",
}
NOW = datetime(2026, 11, 22, 9, 0)


@pytest.fixture
def engine(tmp_path: Path) -> FlowEngine:
    (tmp_path / "responses").mkdir()
    (tmp_path / "responses" / "r.yml").write_text(RESPONSES, encoding="utf-8")
    for name, text in FLOWS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    actions = ActionRegistry()

    @actions.register("check_code")
    def check_code(ctx: ActionContext) -> str:
        return "valid" if str(ctx.value).startswith("H") else "invalid"

    @actions.register("check_yes")
    def check_yes(ctx: ActionContext) -> str:
        # A validator that would take the model's affirm as a yes: the explicit step must not let it.
        if ctx.parse.entities.get("choice") == "yes" or ctx.parse.text == "erase" or ctx.parse.intent == "affirm":
            return "valid"
        return "invalid"

    @actions.register("erase")
    def erase(ctx: ActionContext) -> str:
        ctx.say("erased")
        return "done"

    @actions.register("explode")
    def explode(ctx: ActionContext) -> str:
        raise RuntimeError("provider down")

    return FlowEngine.load(actions, tmp_path, EngineConfig(confidence_threshold=0.5, ttl=timedelta(minutes=30)))


def say(intent=None, text="", confidence=0.9, **entities) -> ParseResult:
    return ParseResult(text=text, intent=intent, confidence=confidence, entities=entities)


def run(engine, turns, now=NOW):
    state, texts = None, []
    for parse in turns:
        result = engine.handle(state, parse, None, now)
        state = result.state
        texts.append([r.text for r in result.replies])
    return state, texts, result


def test_collect_asks_rejects_a_bad_answer_then_completes(engine):
    _, texts, result = run(engine, [say("check_status"), say(text="xyz"), say(text="H123")])
    assert texts == [["your code?"], ["bad code"], ["code H123 ok"]]
    assert result.completed == ["status"] and result.flow is None


def test_an_entity_in_the_first_message_fills_the_slot_at_once(engine):
    _, texts, _ = run(engine, [say("check_status", code="H777")])
    assert texts == [["code H777 ok"]]


def test_a_question_mid_flow_is_answered_then_resuming_is_offered(engine):
    state, texts, result = run(engine, [say("check_status"), say("ask_fee", text="lệ phí bao nhiêu")])
    assert texts[1] == ["faq answer", "resume tra cứu?"]
    assert result.flow == "status"
    _, texts, _ = run(engine, [say("resume", confidence=1.0)], NOW)
    result = engine.handle(state, say("resume", confidence=1.0), None, NOW)
    assert [r.text for r in result.replies] == ["your code?"]
    result = engine.handle(result.state, say(text="H1"), None, NOW)
    assert [r.text for r in result.replies] == ["code H1 ok"]


def test_small_talk_does_not_interrupt_a_question_but_runs_when_idle(engine):
    _, texts, result = run(engine, [say("check_status"), say("affirm", text="ok")])
    assert texts[1] == ["bad code"] and result.flow == "status"
    _, texts, _ = run(engine, [say("affirm", text="ok")])
    assert texts == [["hello"]]


def test_cancel_mid_flow_clears_it(engine):
    state, texts, result = run(engine, [say("check_status"), say("cancel")])
    assert texts[1] == ["cancelled"] and result.flow is None
    assert engine.handle(state, say("cancel"), None, NOW).replies[0].text == "nothing to cancel"


def test_a_stale_flow_expires_and_the_new_message_is_handled_fresh(engine):
    state, _, _ = run(engine, [say("check_status")])
    result = engine.handle(state, say("ask_fee"), None, NOW + timedelta(hours=2))
    assert [r.text for r in result.replies] == ["expired", "faq answer"]


def test_low_confidence_goes_to_the_fallback_flow(engine):
    _, texts, _ = run(engine, [say("ask_fee", confidence=0.2)])
    assert texts == [["hello"]]


def test_a_failing_action_apologises_and_leaves_no_flow_running(engine):
    _, texts, result = run(engine, [say("explode")])
    assert texts == [["sorry"]] and result.flow is None


def test_state_is_plain_json_so_a_restart_resumes_mid_flow(engine):
    import json

    state, _, _ = run(engine, [say("check_status")])
    restored = json.loads(json.dumps(state))
    result = engine.handle(restored, say(text="H5"), None, NOW)
    assert [r.text for r in result.replies] == ["code H5 ok"]


# -- explicit confirmation (issue 14: a stray "a" read as affirm deleted a person's data) --


@pytest.mark.parametrize("confidence", [0.61, 0.99])
def test_an_explicit_step_is_not_answered_by_the_models_guess(engine, confidence):
    state, texts, result = run(engine, [say("erase_all"), say("affirm", text="a", confidence=confidence)])
    assert texts == [["erase everything?"], ["press Erase or type 'erase'"]]
    assert result.flow == "erase" and not result.completed


def test_an_entity_the_model_found_does_not_answer_an_explicit_step_either(engine):
    _, texts, result = run(engine, [say("erase_all", text="erase all, choice yes", choice="yes")])
    assert texts == [["erase everything?"]] and result.flow == "erase"


def test_an_explicit_step_takes_the_button_or_the_typed_word(engine):
    button = ParseResult(text='/choose{"choice":"yes"}', intent="choose", confidence=1.0, entities={"choice": "yes"},
                         from_button=True)
    for answer in (button, say(text="erase", confidence=0.0)):
        _, texts, result = run(engine, [say("erase_all"), say("affirm", text="a"), answer])
        assert texts[-1] == ["erased"] and result.completed == ["erase"]


def test_cancel_still_cancels_an_explicit_step(engine):
    _, texts, result = run(engine, [say("erase_all"), say("cancel", text="thôi")])
    assert texts[-1] == ["cancelled"] and result.flow is None
