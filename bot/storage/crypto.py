"""Personal data at rest: the data key, and column types that encrypt or mask what they store.

A column declared `EncryptedText`, `EncryptedJSON` or `MaskedText` goes through the type on every
read and write, so no caller can store it in clear by forgetting a call:

    summary = Column(EncryptedText, nullable=False, default="")   # Fernet token, base64 text
    flow_state = Column(EncryptedJSON, nullable=False, default=dict)
    text = Column(MaskedText, nullable=False)                      # ID/phone/dossier code masked

The key belongs to the engine (`attach_keyring(engine, keyring)`; `Store.open` does it), so two
databases with two keys can live in one process. Ciphertext is text (URL-safe base64), so the
same types work on SQLite and PostgreSQL. Encrypted columns cannot be searched in SQL: compare
them in Python after reading, or keep a masked or coded copy next to them.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import DateTime, String, Text, column, insert, select, table
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.types import TypeDecorator

from bot.privacy import mask

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

# The row of channel_state whose value is a known text encrypted with the key: a wrong key fails
# on it at start-up, with a clear message, instead of on some user's message later.
KEY_CHECK_CHANNEL = "storage"
KEY_CHECK_KEY = "data_key_check"
KEY_CHECK_TEXT = "khoá dữ liệu đúng"
# Where the engine's keyring hangs (SQLAlchemy hands the dialect to every bind/result processor).
_DIALECT_ATTRIBUTE = "assistant_keyring"


class DataKeyError(RuntimeError):
    """The data key is missing, malformed, or not the one the stored data was encrypted with."""


class Keyring:
    """One or more Fernet keys: the first encrypts, any of them decrypts (so a key can be rotated)."""

    def __init__(self, keys: Sequence[str], source: str = "DATA_KEY"):
        if not keys:
            raise DataKeyError(f"{source}: no key given")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        except (ValueError, UnicodeEncodeError) as e:
            raise DataKeyError(
                f"{source}: not a data key ({e}); a key is 44 characters of URL-safe base64, "
                "made by `python -m bot privacy newkey`"
            ) from None
        self.source = source

    @classmethod
    def from_text(cls, raw: str, source: str = "DATA_KEY") -> Keyring:
        """Keys separated by commas or new lines, newest first."""
        return cls([k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()], source)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(f"a stored value could not be decrypted with the key from {self.source}") from None

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(
                f"a stored value could not be decrypted with the key from {self.source}: "
                "it is either not encrypted or was encrypted with another key"
            ) from None


def new_key() -> str:
    """A fresh random data key (Fernet: AES-128-CBC with HMAC-SHA256)."""
    return Fernet.generate_key().decode("ascii")


def key_from_file(path: Path) -> Keyring:
    """The keyring in `path`; made (0600, logged) when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(new_key() + "\n")
        try:
            os.link(draft, path)  # atomic: when two processes start at once, one key wins
            log.warning(
                "generated a new data key in %s (personal data in the database is encrypted with it); "
                "back it up with the database: without it the stored conversations cannot be read", path,
            )
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    elif path.stat().st_mode & 0o077:
        log.warning("data key file %s can be read by other users; run: chmod 600 %s", path, path)
    return Keyring.from_text(path.read_text(encoding="ascii"), source=str(path))


def keyring_from_settings(settings: Settings) -> Keyring:
    """DATA_KEY when it is set, else the key file (made on first start)."""
    if settings.data_key:
        return Keyring.from_text(settings.data_key, source="DATA_KEY")
    return key_from_file(settings.data_key_path)


# -- the engine's keyring ------------------------------------------------------------


def attach_keyring(engine: Engine, keyring: Keyring) -> None:
    """Encrypted columns of this engine use `keyring`."""
    setattr(engine.dialect, _DIALECT_ATTRIBUTE, keyring)


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    if keyring is None:
        raise DataKeyError("this database engine has no data key: open it with Store.open(url, keyring)")
    return keyring


_channel_state = table(
    "channel_state", column("channel", String), column("key", String), column("value", Text), column("updated_at", DateTime)
)


def check_key(connection: Connection, keyring: Keyring) -> bool:
    """Raises DataKeyError if the database was written with another key; writes the check row the
    first time (answers True then)."""
    where = (_channel_state.c.channel == KEY_CHECK_CHANNEL) & (_channel_state.c.key == KEY_CHECK_KEY)
    stored = connection.execute(select(_channel_state.c.value).where(where)).scalar_one_or_none()
    if stored is None:
        connection.execute(insert(_channel_state).values(
            channel=KEY_CHECK_CHANNEL, key=KEY_CHECK_KEY, value=keyring.encrypt(KEY_CHECK_TEXT), updated_at=_utcnow(),
        ))
        return True
    try:
        if keyring.decrypt(stored) == KEY_CHECK_TEXT:
            return False
    except DataKeyError:
        pass
    raise DataKeyError(
        f"the data key from {keyring.source} is not the key this database was encrypted with; "
        "start with the original key (DATA_KEY, or the key file kept with the database). "
        "Without it the stored personal data cannot be read."
    )


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# -- column types ----------------------------------------------------------------------


class EncryptedText(TypeDecorator):
    """Text stored encrypted with the engine's data key; read back as the original str."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).decrypt(value)


class EncryptedJSON(TypeDecorator):
    """A JSON value (dict, list, str, number) stored encrypted; read back as the same value."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keyring_of(dialect).decrypt(value))


class MaskedText(TypeDecorator):
    """Text stored with ID numbers, phone numbers and dossier codes masked (one way: for statistics
    and context, where the full number is never needed)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else mask(str(value))
