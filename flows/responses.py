"""The response book: every sentence, button and prompt the assistant says, from YAML.

A response is one message or a list of them:

    procedure_menu:
      text: "Bạn muốn biết gì về {procedure_name}?"
      buttons:
        - {title: "Giấy tờ cần nộp", intent: ask_documents, entities: {procedure: "{procedure_code}"}}
        - {title: "Gọi tổng đài", payload: "/request_human"}
      links:
        - {title: "Xem trên Cổng DVC", url: "{source_url}"}

`{name}` placeholders are filled from the values an action passes. A button either
carries a `payload` (sent back as the user's text) or an `intent` with `entities`,
which becomes the payload `/intent{"entity": "value"}`.
"""

from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.replies import Button, Link, Reply
from flows.yamlfile import LineDict, load_yaml


class ResponseError(ValueError):
    """A response file or a render call that is wrong; says file, line and key."""


def intent_payload(intent: str, entities: dict[str, Any] | None = None) -> str:
    """The text a button sends back to start `intent` with `entities`."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=4096)
def _fields(template: str) -> frozenset[str]:
    """The placeholders of a template (the book's templates are few: each is parsed once)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


class ResponseBook:
    """All responses by key, checked when loaded, rendered into `Reply` objects."""

    def __init__(self, responses: dict[str, list[LineDict]]):
        self._responses = responses

    @classmethod
    def load(cls, folder: Path, root: Path | None = None) -> ResponseBook:
        responses: dict[str, list[LineDict]] = {}
        for path in sorted(folder.glob("*.yml")):
            raw = load_yaml(path, root)
            if not isinstance(raw, LineDict):
                raise ResponseError(f"{path}:1: a response file must be a mapping of key: message")
            for key, value in raw.items():
                where = raw.where(key)
                if key in responses:
                    raise ResponseError(f"{where}: response '{key}' is defined twice")
                messages = value if isinstance(value, list) else [value]
                for message in messages:
                    cls._check(message, f"{where}: response '{key}'")
                responses[str(key)] = messages
        return cls(responses)

    @staticmethod
    def _check(message: Any, where: str) -> None:
        if isinstance(message, str) or not isinstance(message, dict) or "text" not in message:
            raise ResponseError(f"{where}: each message needs a 'text'")
        unknown = set(message) - {"text", "buttons", "links"}
        if unknown:
            raise ResponseError(f"{where}: unknown key(s) {sorted(unknown)}")
        for button in message.get("buttons") or []:
            if not isinstance(button, dict) or "title" not in button or (
                ("payload" in button) == ("intent" in button)
            ):
                raise ResponseError(f"{where}: a button needs a title and either payload or intent: {button!r}")
        for link in message.get("links") or []:
            if not isinstance(link, dict) or set(link) != {"title", "url"}:
                raise ResponseError(f"{where}: a link needs title and url: {link!r}")

    def __contains__(self, key: str) -> bool:
        return key in self._responses

    def keys(self) -> list[str]:
        return sorted(self._responses)

    def text(self, key: str, **values: Any) -> str:
        """The text of a one-message response, filled in (for list items and labels)."""
        return self.render(key, **values)[0].text

    def render(self, key: str, **values: Any) -> list[Reply]:
        if key not in self._responses:
            raise ResponseError(f"unknown response '{key}'")
        replies = []
        for message in self._responses[key]:
            fill = self._filler(key, message, values)
            buttons = []
            for b in message.get("buttons") or []:
                if "payload" in b:
                    payload = fill(str(b["payload"]))
                else:
                    entities = {k: fill(str(v)) for k, v in (b.get("entities") or {}).items()}
                    payload = intent_payload(str(b["intent"]), entities)
                buttons.append(Button(title=fill(str(b["title"])), payload=payload))
            links = tuple(Link(title=fill(str(lk["title"])), url=fill(str(lk["url"]))) for lk in message.get("links") or [])
            replies.append(Reply(text=fill(str(message["text"])).strip(), buttons=tuple(buttons), links=links))
        return replies

    @staticmethod
    def _filler(key: str, message: LineDict, values: dict[str, Any]) -> Any:
        def fill(template: str) -> str:
            missing = _fields(template).difference(values)
            if missing:
                where = message.where() if isinstance(message, LineDict) else key
                raise ResponseError(f"{where}: response '{key}' needs value(s) {sorted(missing)}")
            return template.format(**values)

        return fill
