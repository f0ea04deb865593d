"""Settings from environment variables and an optional `.env`, checked at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlparse

if TYPE_CHECKING:
    from bot.storage.db import DatabaseOptions

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable."""


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535 (0: any free port, for tests)")
    return value


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a whole number above 0")
    return value


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a number from 0 to 1")
    return value


def _seconds(raw: str) -> float:
    value = float(raw)
    if not 0.0 < value <= 3600.0:
        raise ValueError("must be a number of seconds above 0 (at most 3600)")
    return value


def _database_url(raw: str) -> str:
    if "://" not in raw:
        raise ValueError("must be an SQLAlchemy URL such as sqlite:///var/assistant.db or postgresql://user:pw@host/db")
    return raw


def _http_url(raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return value


def _text(raw: str) -> str:
    return raw


def _optional_http_url(raw: str) -> str:
    return _http_url(raw) if raw else ""


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _schedule(raw: str) -> str:
    from bot.desk_hours import parse_schedule  # checked here so a typo fails at start-up, not at 17:01

    parse_schedule(raw)
    return raw


@dataclass(frozen=True)
class ApiKey:
    """A front end of the JSON API: its name (which namespaces its users), its key, whether it may read slots."""

    name: str
    key: str
    slots: bool = False

    def __repr__(self) -> str:  # never print a key
        return f"ApiKey(name={self.name!r}, slots={self.slots})"


_FRONT_END = re.compile(r"[a-z0-9_-]{1,16}")
_KEY = re.compile(r"[A-Za-z0-9_.~+/=-]{24,256}")


def _api_keys(raw: str) -> tuple[ApiKey, ...]:
    keys: list[ApiKey] = []
    for number, entry in enumerate(filter(None, (e.strip() for e in raw.split(","))), 1):
        name, _, rest = entry.partition(":")
        key, _, flag = rest.partition(":")
        if not _FRONT_END.fullmatch(name):
            raise ValueError(f"entry {number}: the front end's name must be 1-16 of a-z, 0-9, _ and -")
        if not _KEY.fullmatch(key):
            raise ValueError(f"entry {number} ({name}): the key must be 24 to 256 characters of A-Z a-z 0-9 _ . ~ + / = -")
        if flag not in ("", "slots"):
            raise ValueError(f"entry {number} ({name}): after the key only ':slots' may follow")
        if any(k.name == name for k in keys):
            raise ValueError(f"entry {number}: front end {name!r} is listed twice")
        keys.append(ApiKey(name, key, flag == "slots"))
    return tuple(keys)


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    parse: Callable[[str], Any]
    doc: str


# The one list of settings: parsed here, shown in the README (a test keeps them in step).
SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "127.0.0.1", _text, "Address the web server listens on."),
    Setting("PORT", "8080", _port, "Port of the web chat and webhooks."),
    Setting("DATABASE_URL", "sqlite:///var/assistant.db", _database_url,
            "SQLAlchemy URL of the database (SQLite file under var/ by default; PostgreSQL for deployments)."),
    Setting("MODEL_DIR", "models", _text, "Where trained NLU models are kept."),
    Setting("LOG_LEVEL", "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR."),
    Setting("NLU_CONFIDENCE", "0.5", _fraction, "Below this intent confidence a message counts as not understood."),
    Setting("FLOW_TTL_MINUTES", "60", _positive, "A conversation left this long mid-flow starts afresh."),
    Setting("DESK_HOTLINE", "", _text, "Hotline of the one-stop desk, told to users who ask for a person."),
    Setting("DESK_HOURS", "", _text, "Opening hours of the desk, told with the hotline."),
    Setting("DOSSIER_DEMO", "true", _flag,
            "Load the sample dossiers of the local status table, so the status check can be tried; false in production."),
    Setting("TELEGRAM_BOT_TOKEN", "", _text, "Token from @BotFather; Telegram starts when it is set."),
    Setting("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot", _http_url,
            "Bot API base URL (the token is appended); a local Bot API server or a test replica."),
    Setting("TELEGRAM_WEBHOOK_URL", "", _optional_http_url,
            "Public HTTPS URL Telegram posts updates to; unset: long polling."),
    Setting("TELEGRAM_WEBHOOK_SECRET", "", _text, "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token (webhook mode)."),
    Setting("ZALO_APP_ID", "", _text, "Zalo app id; Zalo starts when the app id, OA secret key and a token are set."),
    Setting("ZALO_APP_SECRET", "", _text, "Zalo app secret key, used to refresh the access token."),
    Setting("ZALO_OA_SECRET_KEY", "", _text, "OA secret key that signs webhook events (X-ZEvent-Signature)."),
    Setting("ZALO_ACCESS_TOKEN", "", _text, "OA access token to start with (refreshed automatically)."),
    Setting("ZALO_REFRESH_TOKEN", "", _text, "OA refresh token to start with; the rotated one is kept in the database."),
    Setting("ZALO_API_BASE_URL", "https://openapi.zalo.me", _http_url, "Zalo OpenAPI base URL."),
    Setting("ZALO_OAUTH_BASE_URL", "https://oauth.zaloapp.com", _http_url, "Zalo OAuth base URL (token refresh)."),
    Setting("DATA_KEY", "", _text,
            "Key(s) that encrypt personal data in the database, newest first, comma-separated; "
            "empty: the key in DATA_KEY_FILE (made on first start)."),
    Setting("DATA_KEY_FILE", "var/data.key", _text, "Where the data key is kept when DATA_KEY is empty (0600)."),
    Setting("RETENTION_DAYS", "365", _positive,
            "Conversations, messages, feedback and closed tickets older than this are deleted (daily)."),
    Setting("API_KEYS", "", _api_keys,
            "Front ends allowed on the JSON API: name:key[:slots],... (key of 24+ characters; :slots lets that "
            "front end ask for a turn's slots). Empty: only the web chat page."),
    Setting("WEB_HTTPS", "false", _flag,
            "True when the site is served over HTTPS (behind a proxy): the web chat's session cookie is marked Secure."),
    Setting("SESSION_SECRET", "", _text,
            "Key that signs the web chat's session cookies; empty: one is made and kept in the database."),
    Setting("DESK_SCHEDULE", "", _schedule,
            "When staff answer in the desk's inbox, e.g. 'mon-fri 07:30-11:30,13:30-17:00' (Vietnam time); "
            "empty: always. Outside it the assistant says when someone will answer and offers a call back."),
    Setting("DESK_SESSION_KEY", "", _text,
            "Key of the desk's encrypted session cookie (Fernet, 44 characters); empty: one is generated "
            "into var/desk_session.key (mode 0600)."),
    Setting("DESK_COOKIE_SECURE", "false", _flag, "Send the desk's cookie over HTTPS only (true behind HTTPS)."),
    Setting("DESK_LOCKOUT_ATTEMPTS", "5", _positive, "Failed sign-ins in a row before a desk account is locked."),
    Setting("DESK_LOCKOUT_MINUTES", "15", _positive, "How long a locked desk account stays locked."),
    Setting("DESK_PUBLIC_URL", "", _optional_http_url,
            "Address of the web chat that printed QR codes open (e.g. https://hoidap.example.gov.vn); "
            "empty: the address the desk page was opened at."),
    Setting("WORKERS", "1", _positive,
            "Server processes sharing PORT (SO_REUSEPORT); above 1 needs PostgreSQL. See \"Serving a province\"."),
    Setting("DB_POOL_SIZE", "10", _positive, "Database connections each worker keeps open (PostgreSQL)."),
    Setting("DB_POOL_OVERFLOW", "10", _non_negative, "Extra connections a worker may open at a peak, closed after."),
    Setting("DB_POOL_TIMEOUT", "10", _positive, "Seconds a turn waits for a free connection before failing."),
    Setting("DB_STATEMENT_TIMEOUT_MS", "15000", _positive,
            "PostgreSQL cancels a statement running longer than this (milliseconds)."),
    Setting("DB_LOCK_TIMEOUT_MS", "20000", _positive,
            "How long a message waits for the same person's previous turn (and any row lock), in milliseconds."),
    Setting("DOSSIER_PROVIDERS_FILE", "bot/data/dossier_providers.yml", _text,
            "Which provider answers which dossier codes (by prefix), the one-door systems' lookup APIs and push sources."),
    Setting("DOSSIER_LOOKUPS_PER_USER", "20", _positive, "Dossier lookups one person may make per window."),
    Setting("DOSSIER_LOOKUPS_PER_CODE", "10", _positive,
            "Lookups of one dossier code, by anyone, per window (guessing the 4 digits)."),
    Setting("DOSSIER_LOOKUP_WINDOW_MINUTES", "60", _positive, "The window of the two lookup limits."),
    Setting("DOSSIER_HASH_KEY", "", _text,
            "Key of the hash that stands for dossier codes in the lookup log; set a random one in production."),
    Setting("DOSSIER_PORTAL_LOOKUP_URL", "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html", _http_url,
            "The portal's public dossier lookup page, linked when the details are not here."),
    Setting("DOSSIER_POLL_MINUTES", "15", _positive,
            "How often subscribed dossiers of polled providers are looked up again (with jitter, backoff on failure)."),
    Setting("OUTBOX_INTERVAL_SECONDS", "2", _positive, "How often the outbox is checked for messages due (also woken at once)."),
    Setting("OUTBOX_MAX_ATTEMPTS", "6", _positive, "Tries of one outgoing notice before it is recorded as failed."),
    Setting("ZALO_WINDOW_HOURS", "168", _positive,
            "How long after a person's last message Zalo lets the OA send consultation messages."),
    Setting("ZALO_ZNS_BASE_URL", "https://business.openapi.zalo.me", _http_url, "Zalo ZNS (template message) API base URL."),
    Setting("ZALO_ZNS_TEMPLATE_ID", "", _text,
            "Approved ZNS template for dossier notices (params ma_ho_so, trang_thai, thoi_gian); unset: no ZNS."),
    Setting("TURN_WORKERS", "4", _positive,
            "Worker threads that run turns (understanding, flows, database) off the event loop; one turn per user at a time."),
    Setting("TURN_BUDGET_SECONDS", "8", _seconds,
            "A turn taking longer gets a polite 'please wait' reply; it still finishes and its answer comes with the next one."),
)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    database_url: str
    model_dir: str
    log_level: str
    nlu_confidence: float
    flow_ttl_minutes: int
    desk_hotline: str
    desk_hours: str
    dossier_demo: bool
    telegram_bot_token: str
    telegram_api_base_url: str
    telegram_webhook_url: str
    telegram_webhook_secret: str
    zalo_app_id: str
    zalo_app_secret: str
    zalo_oa_secret_key: str
    zalo_access_token: str
    zalo_refresh_token: str
    zalo_api_base_url: str
    zalo_oauth_base_url: str
    data_key: str = field(repr=False)  # never in a log line or a traceback
    data_key_file: str
    retention_days: int
    desk_schedule: str
    desk_session_key: str
    desk_cookie_secure: bool
    desk_lockout_attempts: int
    desk_lockout_minutes: int
    desk_public_url: str
    workers: int
    db_pool_size: int
    db_pool_overflow: int
    db_pool_timeout: int
    db_statement_timeout_ms: int
    db_lock_timeout_ms: int
    dossier_providers_file: str
    dossier_lookups_per_user: int
    dossier_lookups_per_code: int
    dossier_lookup_window_minutes: int
    dossier_hash_key: str
    dossier_portal_lookup_url: str
    dossier_poll_minutes: int
    outbox_interval_seconds: int
    outbox_max_attempts: int
    zalo_window_hours: int
    zalo_zns_base_url: str
    zalo_zns_template_id: str
    turn_workers: int
    turn_budget_seconds: float
    api_keys: tuple[ApiKey, ...] = ()
    web_https: bool = False
    session_secret: str = ""

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = ROOT / ".env") -> Settings:
        """Environment first, then `.env`, then defaults; a bad value raises SettingsError."""
        values = dict(read_env_file(env_file)) if env_file is not None and env_file.exists() else {}
        values.update(os.environ if environ is None else environ)
        parsed: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = values.get(setting.name, setting.default)
            try:
                parsed[setting.name.lower()] = setting.parse(str(raw).strip())
            except ValueError as e:
                raise SettingsError(f"{setting.name}={raw!r}: {e}") from None
        return cls(**parsed)

    @property
    def database_url_resolved(self) -> str:
        """The database URL with a relative SQLite path anchored at the project folder."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and not self.database_url.startswith(prefix + "/"):
            path = self.database_url[len(prefix):]
            if path and path != ":memory:":
                return prefix + str(ROOT / path)
        return self.database_url

    @property
    def model_path(self) -> Path:
        path = Path(self.model_dir)
        return path if path.is_absolute() else ROOT / path

    @property
    def data_key_path(self) -> Path:
        path = Path(self.data_key_file)
        return path if path.is_absolute() else ROOT / path

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_oa_secret_key and (self.zalo_access_token or self.zalo_refresh_token))

    @property
    def database(self) -> DatabaseOptions:
        """How the database is opened: its URL with the pool and timeouts."""
        from bot.storage.db import DatabaseOptions

        return DatabaseOptions(
            url=self.database_url_resolved, pool_size=self.db_pool_size, pool_overflow=self.db_pool_overflow,
            pool_timeout=self.db_pool_timeout, statement_timeout_ms=self.db_statement_timeout_ms,
            lock_timeout_ms=self.db_lock_timeout_ms,
        )

    def contact(self) -> dict[str, str]:
        return {"hotline": self.desk_hotline, "hours": self.desk_hours, "schedule": self.desk_schedule}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped; quotes around a value removed."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values

