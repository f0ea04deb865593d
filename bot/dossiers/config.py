"""Reads bot/data/dossier_providers.yml: the providers by code prefix and the one-door push sources."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from bot.settings import ROOT, SettingsError
from bot.storage import Store
from flows.services import DossierProvider
from flows.yamlfile import LineDict, YamlFileError, load_yaml


class ProvidersFileError(SettingsError):
    """A providers file that cannot be used; the message gives file:line."""


@dataclass(frozen=True)
class PushSource:
    """A one-door system allowed to push events, with how it proves who it is."""

    name: str
    auth: str  # bearer | hmac
    secret: str
    prefixes: tuple[str, ...]

    def may_report(self, code: str) -> bool:
        return any(p == "*" or code.startswith(p.upper()) for p in self.prefixes)


@dataclass(frozen=True)
class ProvidersConfig:
    routes: list[tuple[tuple[str, ...], DossierProvider]]
    push_sources: dict[str, PushSource]


def _prefixes(item: LineDict) -> tuple[str, ...]:
    raw = item.get("prefixes") or ["*"]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ProvidersFileError(f"{item.where('prefixes')}: 'prefixes' must be a list of code prefixes")
    return tuple(p.strip().upper() if p.strip() != "*" else "*" for p in raw)


def load_providers(path: Path, store: Store, environ: Mapping[str, str] | None = None) -> ProvidersConfig:
    """The providers and push sources of a file; a bad entry fails start-up with file:line."""
    from bot.dossiers.registry import LocalDossierProvider

    env = os.environ if environ is None else environ
    try:
        raw = load_yaml(path)
    except YamlFileError as e:
        raise ProvidersFileError(str(e)) from e
    if not isinstance(raw, LineDict):
        raise ProvidersFileError(f"{path}:1: expected 'providers:' and 'push_sources:'")
    routes: list[tuple[tuple[str, ...], DossierProvider]] = []
    for item in raw.get("providers") or []:
        if not isinstance(item, LineDict) or not item.get("name"):
            raise ProvidersFileError(f"{path}: each provider needs a name, a kind and prefixes")
        kind = item.get("kind")
        provider: Any
        if kind == "local":
            provider = LocalDossierProvider(store)
        elif kind == "http":
            from bot.dossiers.http_provider import HttpDossierProvider

            spec = item.get("spec")
            if not isinstance(spec, str):
                raise ProvidersFileError(f"{item.where()}: an http provider needs 'spec: <file.yml>'")
            spec_path = Path(spec) if Path(spec).is_absolute() else ROOT / spec  # relative: to the project, like the file
            provider = HttpDossierProvider.from_file(spec_path, name=str(item["name"]), environ=env)
        else:
            raise ProvidersFileError(f"{item.where('kind')}: kind must be local or http, got {kind!r}")
        routes.append((_prefixes(item), provider))
    sources: dict[str, PushSource] = {}
    for item in raw.get("push_sources") or []:
        if not isinstance(item, LineDict) or not item.get("name"):
            raise ProvidersFileError(f"{path}: each push source needs name, auth, secret_env, prefixes")
        auth = item.get("auth")
        if auth not in ("bearer", "hmac"):
            raise ProvidersFileError(f"{item.where('auth')}: auth must be bearer or hmac, got {auth!r}")
        secret_env = str(item.get("secret_env") or "")
        secret = env.get(secret_env, "")
        if len(secret) < 16:
            raise ProvidersFileError(
                f"{item.where('secret_env')}: push source '{item['name']}' needs its secret (16+ characters) "
                f"in the environment variable {secret_env or '(secret_env not given)'}")
        sources[str(item["name"])] = PushSource(str(item["name"]), str(auth), secret, _prefixes(item))
    return ProvidersConfig(routes, sources)
