"""Masks personal data (ID numbers, phone numbers, dossier codes) before it is logged."""

from __future__ import annotations

import logging
import re
from typing import TextIO

from nlu.dossier_code import find_code_attempts

# Phone numbers: 0xxxxxxxxx, +84 / 84 then 9-10 digits, grouped with spaces, dots or dashes. Not after a
# digit or a dot, so the parts of a procedure code ("1.000894") are not read as a phone.
_PHONE_INTL = re.compile(r"(?<![\d.,])(?:\+\s?84|84)(?:[\s.-]?\d){9,10}(?!\d)")
_PHONE = re.compile(r"(?<![\d.,])0(?:[\s.-]?\d){8,10}(?!\d)")
# Căn cước (12 digits) and the old CMND (9 digits), also typed in groups of three ("001 203 004 567").
_ID_NUMBER = re.compile(r"(?<![\d.,])(?:\d{12}|\d{9}|\d{3}(?:[\s.]\d{3}){2,3})(?![\d])")


def _keep_ends(raw: str) -> str:
    digits = re.sub(r"\W", "", raw)
    return f"{digits[:2]}***{digits[-2:]}" if len(digits) > 6 else "***"


def mask(text: str) -> str:
    """The text with dossier codes, ID and phone numbers replaced by masked forms ("[sđt 09***78]").

    Dossier codes are found as the NLU finds them (well formed or mistyped), so what the assistant
    reads as a code is what is masked.
    """
    if not any(c.isdigit() for c in text):
        return text
    parts: list[str] = []
    last = 0
    for start, end in find_code_attempts(text):
        parts.append(text[last:start])
        parts.append("[mã hồ sơ " + _keep_ends(text[start:end]) + "]")
        last = end
    parts.append(text[last:])
    text = "".join(parts)
    phone = lambda m: "[sđt " + _keep_ends(m.group(0)) + "]"  # noqa: E731
    text = _PHONE_INTL.sub(phone, text)  # before ID numbers: "+84 912 345 678" is not a CMND
    text = _ID_NUMBER.sub(lambda m: "[số giấy tờ " + _keep_ends(m.group(0)) + "]", text)
    return _PHONE.sub(phone, text)


class MaskingFilter(logging.Filter):
    """Masks personal data in every record it passes: the message, its arguments, a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.msg % record.args
            except (TypeError, ValueError):
                record.msg = f"{record.msg} {record.args!r}"
            record.args = None
        record.msg = mask(str(record.msg))
        if record.exc_info and not record.exc_text:
            # A formatter prints exc_text when it is set: format the traceback here, masked.
            record.exc_text = mask(_formatter.formatException(record.exc_info))
            record.exc_info = None  # formatters print exc_text; nothing else gets the raw traceback
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_formatter = logging.Formatter()


def setup_logging(level: str, stream: TextIO | None = None) -> None:
    """One handler on the root logger (standard error by default) that masks personal data."""
    # A handler that fails prints the record's traceback unfiltered: not in a running server.
    logging.raiseExceptions = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    # On the handler, not the root logger: a handler's filter sees the records of every logger.
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("tensorflow", "absl", "rasa", "h5py", "matplotlib", "apscheduler", "aiohttp.access",
                   "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class OneLineFormatter(logging.Formatter):
    """One record, one line: newlines, NUL and other control characters in a message are escaped,
    so a value a user controls (an id, a text) can never forge a log line. Tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        return line if line.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
