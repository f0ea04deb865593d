"""A one-door system's lookup API as a DossierProvider, described in YAML (login, request, field and
status mapping), with a time budget, retries with backoff and a circuit breaker.

The interface is synchronous (flows call `lookup` in a turn) and bounded: every call, retries
included, ends within `budget_seconds`; while the breaker is open it fails at once. The shape
follows the national portal's agency interface (a session login, then POST {session, madonvi,
service: TraCuuHoSo, mahoso}; success is error_code 0 with the data in `result`; dates yyyyMMddHHmmss
in Vietnam time). See bot/data/onedoor_example.yml for a described system.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from bot.dossiers.events import vietnam_time
from bot.privacy import mask
from bot.settings import SettingsError
from flows.actions.dossier_status_model import UNKNOWN, status_key
from flows.services import DossierRecord, DossierStep, ProviderUnavailable
from flows.yamlfile import LineDict, YamlFileError, load_yaml

log = logging.getLogger(__name__)


class SpecError(SettingsError):
    """A provider description that cannot be used (start-up stops with it); the message gives file:line."""


@dataclass
class CircuitBreaker:
    """Closed: calls go through. After `failures` failures in a row: open for `reset_seconds` (calls fail
    at once), then half-open: one call tries; success closes it, failure opens it again."""

    failures: int = 3
    reset_seconds: float = 30.0
    _count: int = 0
    _opened_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self._opened_at >= self.reset_seconds else "open"

    def allow(self) -> bool:
        with self._lock:
            if self.state != "open":
                if self.state == "half_open":
                    self._opened_at = time.monotonic()  # one trial at a time; others keep failing fast
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._count, self._opened_at = 0, None

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._count >= self.failures:
                if self._opened_at is None:
                    log.warning("dossier provider breaker opens after %d failures", self._count)
                self._opened_at = time.monotonic()


class _Failure(Exception):
    def __init__(self, reason: str, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    """A request template with {session}, {code} and {env:NAME} filled in."""
    if isinstance(template, str):
        if template.startswith("{env:") and template.endswith("}"):
            return values.get(template, "")
        for key, value in values.items():
            if not key.startswith("{env:"):
                template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _get(data: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        data = data.get(part) if isinstance(data, dict) else None
    return data


@dataclass
class HttpDossierProvider:
    """Looks dossiers up in a one-door system's API described by a YAML spec."""

    name: str
    base_url: str
    spec: dict[str, Any]
    env: dict[str, str]
    timeout: float = 1.0
    retries: int = 2
    backoff: float = 0.2
    budget: float = 2.5
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    can_search = False
    polled = True  # changes are found by polling subscribed codes
    _session: str | None = None
    _session_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_file(cls, path: Path, name: str | None = None, environ: Mapping[str, str] | None = None) -> HttpDossierProvider:
        env = dict(os.environ if environ is None else environ)
        try:
            raw = load_yaml(path)
        except YamlFileError as e:
            raise SpecError(str(e)) from e
        if not isinstance(raw, LineDict):
            raise SpecError(f"{path}:1: expected a mapping (base_url, login, lookup, fields, statuses)")
        for key in ("lookup", "fields"):
            if not isinstance(raw.get(key), dict):
                raise SpecError(f"{raw.where()}: '{key}' is required (see bot/data/onedoor_example.yml)")
        base_url = str(raw.get("base_url") or env.get(str(raw.get("base_url_env") or ""), ""))
        if not base_url.startswith(("http://", "https://")):
            raise SpecError(f"{raw.where('base_url')}: base_url (or the variable named by base_url_env) must be an http(s) URL")
        breaker = raw.get("breaker") or {}
        return cls(
            name=name or str(raw.get("name") or path.stem), base_url=base_url.rstrip("/"), spec=dict(raw),
            env={f"{{env:{k}}}": v for k, v in env.items()},
            timeout=float(raw.get("timeout_seconds", 1.0)), retries=int(raw.get("retries", 2)),
            backoff=float(raw.get("backoff_seconds", 0.2)), budget=float(raw.get("budget_seconds", 2.5)),
            breaker=CircuitBreaker(int(breaker.get("failures", 3)), float(breaker.get("reset_seconds", 30))),
        )

    # -- HTTP

    def _post(self, path: str, body: Any, deadline: float) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            raise _Failure("time budget spent", retry=False)
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            # bandit B310: base_url is checked to be http(s) when the provider's YAML is loaded.
            with urllib.request.urlopen(request, timeout=min(self.timeout, remaining)) as response:  # nosec B310
                raw = response.read(1_000_000)
        except urllib.error.HTTPError as e:
            raise _Failure(f"HTTP {e.code}", retry=e.code >= 500 or e.code == 429) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise _Failure(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Failure("answer is not JSON") from None

    def _login(self, deadline: float) -> str:
        login = self.spec.get("login")
        if not isinstance(login, dict):
            return ""
        answer = self._post(str(login.get("path", "/login")), _fill(login.get("body") or {}, self.env), deadline)
        session = _get(answer, str(login.get("session_field", "session")))
        if not session:
            raise _Failure(f"login refused (error_code {_get(answer, 'error_code')!r})", retry=False)
        return str(session)

    def _session_id(self, deadline: float, renew: bool = False) -> str:
        with self._session_lock:
            if self._session is None or renew:
                self._session = self._login(deadline)
            return self._session

    def _call(self, code: str, deadline: float) -> dict[str, Any] | None:
        lookup = self.spec["lookup"]
        ok_field = str(lookup.get("ok_field", "error_code"))
        for renew in (False, True):
            session = self._session_id(deadline, renew)
            body = _fill(lookup.get("body") or {}, {**self.env, "session": session, "code": code})
            answer = self._post(str(lookup.get("path", "/service")), body, deadline)
            status = _get(answer, ok_field)
            if status == lookup.get("ok_value", 0):
                result = _get(answer, str(lookup.get("result_field", "result")))
                return result if isinstance(result, dict) and result else None
            if status in (lookup.get("not_found_values") or []):
                return None
            if status in (lookup.get("session_expired_values") or []) and not renew:
                continue
            raise _Failure(f"{ok_field} {status!r}", retry=True)
        raise _Failure("session refused after a new login", retry=False)

    def lookup(self, code: str) -> DossierRecord | None:
        """The dossier, None when the system does not know it; ProviderUnavailable within the budget otherwise."""
        if not self.breaker.allow():
            raise ProviderUnavailable(self.name, "circuit open after repeated failures")
        deadline = time.monotonic() + self.budget
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                result = self._call(code, deadline)
            except _Failure as e:
                reason = e.reason
                log.info("dossier provider %s: %s for %s (try %d)", self.name, e.reason, mask(code), attempt + 1)
                if not e.retry or time.monotonic() + self.backoff * 2 ** attempt >= deadline:
                    break
                time.sleep(self.backoff * 2 ** attempt)
                continue
            self.breaker.success()
            return self._record(code, result) if result is not None else None
        self.breaker.failure()
        raise ProviderUnavailable(self.name, reason or "no answer")

    # -- mapping

    def _status(self, raw: Any) -> str:
        extra = self.spec.get("statuses") or {}
        mapped = extra.get(str(raw)) if isinstance(extra, dict) else None
        return status_key(mapped if mapped is not None else raw)

    def _date(self, raw: Any) -> date | None:
        try:
            return vietnam_time(raw).date() if raw not in (None, "") else None
        except (ValueError, TypeError):
            return None

    def _record(self, code: str, result: dict[str, Any]) -> DossierRecord:
        fields = self.spec["fields"]

        def value(name: str) -> Any:
            return _get(result, str(fields[name])) if fields.get(name) else None

        raw_status = value("status")
        history = []
        for item in value("history") or []:
            if not isinstance(item, dict):
                continue
            try:
                at = vietnam_time(item.get("ThoiDiemXuLy"))
            except (ValueError, TypeError):
                continue
            history.append(DossierStep(at, self._status(item.get("TrangThai")), str(item.get("NoiDungXuLy") or ""),
                                       str(item.get("PhongBanXuLy") or "")))
        digits = tuple(str(value(k) or "")[-4:] for k in ("id_number", "phone") if str(value(k) or "").strip())
        status = self._status(raw_status)
        if status == UNKNOWN:
            log.info("dossier provider %s: status %r is not on the list; shown as it is", self.name, raw_status)
        return DossierRecord(
            code=code, status=status, procedure_name=str(value("procedure_name") or ""),
            procedure_code=str(value("procedure_code") or "") or None, received_on=self._date(value("received")),
            due_on=self._date(value("due")), note=str(value("note") or ""),
            history=tuple(sorted(history, key=lambda s: s.at)), holder_digits=digits, raw_status=str(raw_status or ""),
        )
