"""`python -m bot chat --json`: scripted conversations, one JSON line per turn."""

import io
import json

from bot.cli import json_lines


async def test_json_lines_answer_each_turn_with_replies_buttons_intent_and_flow(assistant, user):
    stdin = io.StringIO(
        json.dumps({"user": user, "text": "chào bạn"}) + "\n"
        + "not json\n"
        + json.dumps({"user": user, "text": "làm khai sinh cần giấy tờ gì"}) + "\n"
    )
    out = io.StringIO()
    await json_lines(assistant, stdin, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["intent"] == "greet" and lines[0]["buttons"] and "flow" in lines[0]
    assert lines[1] == {"error": lines[1]["error"], "line": 2}
    assert lines[2]["intent"] == "ask_documents"
    # the answer, or a choice of similar procedures that includes birth registration
    assert any("Giấy chứng sinh" in r["text"] for r in lines[2]["replies"]) or any(
        "1.001193" in b["payload"] for b in lines[2]["buttons"]
    )
