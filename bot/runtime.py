"""Builds a ready Assistant from settings: database, knowledge, flows, NLU model."""

from __future__ import annotations

import gc
import logging
import os
import time
import warnings
from dataclasses import replace

from bot.assistant import Assistant, Understanding
from bot.commands import TypedCommands
from bot.desk import StoredDesk
from bot.desk_hours import parse_schedule
from bot.dossiers import sync_demo_dossiers
from bot.dossiers.service import DossierService
from bot.handover import Handover
from bot.settings import Settings
from bot.storage import Store
from bot.storage.crypto import keyring_from_settings
from bot.storage.db import DatabaseOptions
from flows.engine import EngineConfig, FlowEngine

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A part the assistant needs is missing or unreadable; the message says which and what to do."""

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no network: never phone home
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build_engine(settings: Settings) -> FlowEngine:
    from datetime import timedelta

    from flows.actions import registry

    config = EngineConfig(
        confidence_threshold=settings.nlu_confidence, ttl=timedelta(minutes=settings.flow_ttl_minutes)
    )
    return FlowEngine.load(registry, config=config)


def build_dossier_service(settings: Settings, store: Store) -> DossierService:
    """The dossier providers by code prefix (DOSSIER_PROVIDERS_FILE), limits, push sources and the outbox."""
    from datetime import timedelta
    from pathlib import Path

    from bot.dossiers.config import load_providers
    from bot.dossiers.service import LookupLimits, Route
    from bot.outbox import Dispatcher
    from bot.settings import ROOT

    path = Path(settings.dossier_providers_file)
    config = load_providers(path if path.is_absolute() else ROOT / path, store)
    limits = LookupLimits(settings.dossier_lookups_per_user, settings.dossier_lookups_per_code,
                          timedelta(minutes=settings.dossier_lookup_window_minutes))
    service = DossierService(store, [Route(p, provider) for p, provider in config.routes], limits,
                             hash_key=settings.dossier_hash_key, portal_lookup_url=settings.dossier_portal_lookup_url)
    service.push_sources = config.push_sources
    service.dispatcher = Dispatcher(store, max_attempts=settings.outbox_max_attempts,
                                    interval=float(settings.outbox_interval_seconds))
    if any(getattr(provider, "polled", False) for _, provider in config.routes):
        from bot.dossiers.poller import Poller

        service.poller = Poller(service, timedelta(minutes=settings.dossier_poll_minutes))
    return service


def _database(settings: Settings) -> DatabaseOptions:
    """The database options, with SQLite's wait for its write lock kept within half a turn's budget.

    On SQLite that wait is for the one write lock of the whole file, held by another process (a
    migration, a backup, a shell): a person's turns queue in this process, never there. Waited out past
    the budget, the person would be told their answer comes next time, and then the turn would fail
    and the message be lost; failing within the budget gives the polite error and "Thử lại" instead.
    On PostgreSQL DB_LOCK_TIMEOUT_MS also bounds the wait for the person's previous turn in another
    worker, which may rightly outlast the budget (the answer then comes with the next one).
    """
    database = settings.database
    if not database.url.startswith("sqlite"):
        return database
    within_budget = max(1000, int(settings.turn_budget_seconds * 1000 / 2))
    return replace(database, lock_timeout_ms=min(database.lock_timeout_ms, within_budget))


def build_assistant(settings: Settings, nlu: Understanding | None = None) -> Assistant:
    """Everything the assistant needs; fails early with a clear message if a part is missing."""
    started = time.monotonic()
    from knowledge import load_knowledge

    engine = build_engine(settings)
    store = Store.open(_database(settings), keyring_from_settings(settings))
    sync_demo_dossiers(store, settings.dossier_demo)
    if nlu is None:
        # Rasa's dependencies warn about their own deprecations while loading; users need not see them.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nlu.model import ModelMissingError, NluModel

            try:
                nlu = NluModel.load(settings.model_path)
            except ModelMissingError as e:
                raise StartupError(str(e)) from None
            except Exception as e:  # a truncated or corrupt file: Rasa's own error says little to an operator
                raise StartupError(
                    f"The NLU model under {settings.model_path} cannot be read ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:200]}). Delete it and train again: python -m nlu train"
                ) from e
    # After the model: the knowledge base takes the search index the model brought (one per process).
    knowledge = load_knowledge()
    # The model, the catalog and the flows live as long as the process. A full garbage collection
    # walked their ~260,000 objects in 200-400 ms with every thread stopped (the event loop too);
    # frozen, the collector skips them (0 ms).
    gc.collect()
    gc.freeze()
    log.info("assistant ready in %.1f s", time.monotonic() - started)
    assistant = Assistant(
        nlu=TypedCommands.load(nlu), engine=engine, store=store, knowledge=knowledge,
        desk=StoredDesk(store, schedule=parse_schedule(settings.desk_schedule)),
        dossiers=build_dossier_service(settings, store), contact=settings.contact(),
        turn_workers=settings.turn_workers, turn_budget=settings.turn_budget_seconds,
    )
    assistant.handover = Handover(store, engine.responses)
    return assistant
