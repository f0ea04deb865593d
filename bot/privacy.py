"""Masks personal data (ID numbers, phone numbers, dossier codes) before it is logged."""

from __future__ import annotations

import logging
import re

# Dossier codes (Circular 01/2018/TT-VPCP): agency code, date, sequence, e.g. 000.00.19.H12-230815-0001.
_DOSSIER = re.compile(r"\b[0-9A-Z]{1,5}(?:\s*\.\s*[0-9A-Z]{1,5}){0,4}\s*-\s*\d{6}\s*-\s*\d{3,6}\b", re.I)
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
_ID_NUMBER = re.compile(r"(?<!\d)(?:\d{12}|\d{9})(?!\d)")  # căn cước (12 digits), old CMND (9)


def _keep_ends(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\W", "", raw)
    return f"{digits[:2]}***{digits[-2:]}" if len(digits) > 6 else "***"


def mask(text: str) -> str:
    """The text with dossier codes, phone and ID numbers replaced by masked forms."""
    text = _DOSSIER.sub(lambda m: "[mã hồ sơ " + _keep_ends(m) + "]", text)
    text = _PHONE.sub(lambda m: "[sđt " + _keep_ends(m) + "]", text)
    return _ID_NUMBER.sub(lambda m: "[số giấy tờ " + _keep_ends(m) + "]", text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.msg % record.args
            except (TypeError, ValueError):
                record.msg = f"{record.msg} {record.args!r}"
            record.args = None
        record.msg = mask(str(record.msg))
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
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
