"""Terminal chat: `python -m bot chat` for people, `--json` for scripts.

--json reads one JSON object per line, {"user": "...", "text": "..."}, and writes one
JSON line per turn: {"user", "text", "replies", "buttons", "intent", "confidence", "flow",
"procedures", "started", "completed", "slots"}.
A bad line gets {"error": "...", "line": N} and the chat goes on.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from bot.assistant import Assistant
from flows.replies import Turn


def turn_json(turn: Turn) -> dict:
    """A turn as `--json` writes it: the turn plus all its buttons in one list."""
    body = turn.to_dict()
    body["buttons"] = [{"title": b.title, "payload": b.payload} for b in turn.buttons]
    return body


def _print_turn(turn: Turn, out: TextIO) -> list[str]:
    payloads: list[str] = []
    for reply in turn.replies:
        out.write(f"\n🤖 {reply.text}\n")
        for link in reply.links:
            out.write(f"   🔗 {link.title}: {link.url}\n")
        for item in reply.checklist:
            out.write(f"   [{'x' if item.done else ' '}] {item.text}\n")
        for button in reply.buttons:
            payloads.append(button.payload)
            out.write(f"   [{len(payloads)}] {button.title}\n")
    out.flush()
    return payloads


async def interactive(assistant: Assistant, user: str, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    """A chat in the terminal; typing a button's number presses it. Ctrl-D ends."""
    payloads = _print_turn(await assistant.handle("terminal", user, "/greet"), out)
    while True:
        out.write("\n👤 ")
        out.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            out.write("\n")
            return
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(payloads):
            text = payloads[int(text) - 1]
        if text:
            payloads = _print_turn(await assistant.handle("terminal", user, text), out)


async def json_lines(assistant: Assistant, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    """Scripted conversations: JSON lines in, JSON lines out."""
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            user, text = request["user"], request["text"]
            if not isinstance(user, str) or not isinstance(text, str):
                raise TypeError("'user' and 'text' must be strings")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            out.write(json.dumps({"error": f"bad input line: {e}", "line": number}, ensure_ascii=False) + "\n")
            out.flush()
            continue
        turn = await assistant.handle("terminal", user, text)
        out.write(json.dumps({"user": user, "text": text, **turn_json(turn)}, ensure_ascii=False) + "\n")
        out.flush()
