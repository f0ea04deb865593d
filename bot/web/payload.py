"""Reading what a client sends, for every endpoint: a bounded JSON body, clean text, a safe user id.

Each problem is a PayloadError naming the field at fault with a Vietnamese message
(bot/web/messages.yml); the web chat shows it, the webhooks answer it as their 400.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

MESSAGES = Path(__file__).resolve().parent / "messages.yml"
MAX_BODY = 64 * 1024
# Deeper JSON is refused before Python's parser recurses into it (RecursionError at ~1,000).
MAX_DEPTH = 32
MAX_USER = 64
# What a user id may hold: no spaces, newlines, NUL or other control characters (they forge log lines).
_USER_ID = re.compile(r"[A-Za-z0-9_.:@-]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, escapes included (unrolled: no backtracking)
_BRACKET = re.compile(r"[\[\]{}]")


class PayloadError(ValueError):
    """A request the client got wrong: `field` says where, the message (Vietnamese) says what."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=1)
def _messages() -> dict[str, str]:
    with MESSAGES.open(encoding="utf-8") as f:
        return dict(yaml.safe_load(f))


def message(key: str, **values: Any) -> str:
    return _messages()[key].format(**values)


def bad_request(error: PayloadError) -> web.Response:
    return web.json_response({"error": str(error), "field": error.field}, status=400,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def read_body(request: web.Request) -> bytes:
    """The raw body, at most MAX_BODY bytes (aiohttp's own limit answers a plain English 413)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PayloadError("body", message("body_too_large", max=MAX_BODY // 1024))
    raw: bytes | None
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raw = None
    if raw is None or len(raw) > MAX_BODY:
        raise PayloadError("body", message("body_too_large", max=MAX_BODY // 1024))
    return raw


def parse_json(raw: bytes) -> Any:
    """The JSON value in `raw`, nesting bounded, lone surrogates (\\ud800) replaced by U+FFFD."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body", message("body_not_utf8")) from None
    if _depth(text) > MAX_DEPTH:
        raise PayloadError("body", message("body_too_deep", max=MAX_DEPTH))
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise PayloadError("body", message("body_not_json")) from None
    return _clean(value)


async def read_json(request: web.Request) -> Any:
    return parse_json(await read_body(request))


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings: strings are blanked by one regex, then only brackets are read."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break  # deep enough to refuse: no need to read the rest
        else:
            depth -= 1
    return deepest


def clean_text(text: str) -> str:
    """The text with lone UTF-16 surrogates (which no database or channel can store) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    return value


def user_id_problem(user_id: Any, max_length: int = MAX_USER) -> str | None:
    """Why `user_id` cannot name a user (None when it can): 1-64 characters of A-Z a-z 0-9 _ . : @ -."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > max_length:
        return message("user_missing", max=max_length)
    if not _USER_ID.fullmatch(user_id):
        return message("user_bad_characters")
    return None


def log_safe(value: object, limit: int = 80) -> str:
    """A user-controlled value for a log line: control characters escaped, length bounded."""
    text = str(value)
    shown = text[:limit].encode("unicode_escape").decode("ascii") if not text.isprintable() else text[:limit]
    return shown + ("…" if len(text) > limit else "")
