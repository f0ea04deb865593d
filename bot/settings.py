"""Settings from environment variables and an optional `.env`, checked at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable."""


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a whole number above 0")
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
    turn_workers: int
    turn_budget_seconds: float

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
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_oa_secret_key and (self.zalo_access_token or self.zalo_refresh_token))

    def contact(self) -> dict[str, str]:
        return {"hotline": self.desk_hotline, "hours": self.desk_hours}


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

