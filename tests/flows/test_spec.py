"""A malformed flow file fails start-up with file, line and the name at fault."""

from pathlib import Path

import pytest

from flows.actions import registry
from flows.engine import FlowEngine
from flows.spec import FlowError
from flows.yamlfile import YamlFileError

RESPONSES = """\
cancelled: {text: "ok"}
nothing_to_cancel: {text: "ok"}
flow_expired: {text: "ok"}
resume_offer: {text: "back to {flow_title}?"}
internal_error: {text: "sorry"}
hello: {text: "hi"}
"""
FALLBACK = "id: fallback\ndescription: not understood\nsteps:\n  - say: hello\n"


def make_flows(tmp_path: Path, flow_text: str) -> Path:
    (tmp_path / "responses").mkdir()
    (tmp_path / "responses" / "r.yml").write_text(RESPONSES, encoding="utf-8")
    (tmp_path / "fallback.yml").write_text(FALLBACK, encoding="utf-8")
    (tmp_path / "broken.yml").write_text(flow_text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "flow_text, message",
    [
        ("id: x\ndescription: d\nsteps:\n  - say: hello\n  - say: helo\n", r"broken.yml:5: unknown response 'helo'"),
        ("id: x\ndescription: d\nsteps:\n  - action: no_such_action\n", r"broken.yml:4: unknown action 'no_such_action'"),
        ("id: x\ndescription: d\nsteps:\n  - collect: who_slot\n    prompt: hello\n", r"broken.yml:4: unknown slot 'who_slot'"),
        ("id: x\ndescription: d\nsteps:\n  - say: hello\n    next: nowhere\n", r"broken.yml:5: unknown step 'nowhere'"),
        ("id: x\ndescription: d\nsteps:\n  - link: missing_flow\n", r"broken.yml:4: unknown flow 'missing_flow'"),
        ("id: x\nsteps:\n  - say: hello\n", r"broken.yml:1: missing required 'description'"),
        ("id: x\ndescription: d\nsteps:\n  - say: hello\n    action: x\n", r"broken.yml:4: a step needs exactly one"),
        ("id: x\ndescription: d\nsteps:\n  - say: hello\n    next:\n      - if: {colour: red}\n        then: END\n",
         r"broken.yml:6: unknown condition"),
        ("id: x\ndescription: d\nsteps: [\n", r"broken.yml:\d+: invalid YAML"),
        ("id: x\ndescription: d\nslots: {s: {type: text}}\nsteps:\n  - collect: s\n    prompt: hello\n    explicit: true\n",
         r"broken.yml:5: collect step 's' is explicit: it needs a validate action"),
        ("id: x\ndescription: d\nslots: {s: {type: text}}\nsteps:\n  - collect: s\n    prompt: hello\n"
         "    validate: validate_delete_choice\n    explicit: sure\n", r"broken.yml:8: 'explicit' must be true or false"),
    ],
)
def test_a_malformed_flow_fails_fast_with_file_line_and_name(tmp_path, flow_text, message):
    folder = make_flows(tmp_path, flow_text)
    with pytest.raises((FlowError, YamlFileError), match=message):
        FlowEngine.load(registry, folder)


def test_two_flows_cannot_claim_the_same_intent(tmp_path):
    folder = make_flows(tmp_path, "id: x\ndescription: d\nstart: {intents: [greet]}\nsteps:\n  - say: hello\n")
    (folder / "other.yml").write_text("id: y\ndescription: d\nstart: {intents: [greet]}\nsteps:\n  - say: hello\n")
    with pytest.raises(FlowError, match="intent 'greet' already starts flow"):
        FlowEngine.load(registry, folder)


def test_the_shipped_flows_load():
    engine = FlowEngine.load(registry)
    assert {"greeting", "procedure_info", "fallback"} <= set(engine.flows)
