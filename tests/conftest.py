"""Shared fixtures: the real trained NLU model and a real Assistant on a temporary SQLite file."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.settings import Settings  # noqa: E402

_users = itertools.count(1)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    db = tmp_path_factory.mktemp("db") / "test.db"
    return Settings.load(environ={"DATABASE_URL": f"sqlite:///{db}"}, env_file=None)


@pytest.fixture(scope="session")
def nlu_model(settings: Settings):
    from nlu.model import ModelMissingError, NluModel

    try:
        return NluModel.load(settings.model_path)
    except ModelMissingError as e:
        pytest.exit(f"{e}\nRun the tests with `make test`, which trains the model first.", returncode=3)


@pytest.fixture(scope="session")
def assistant(settings: Settings, nlu_model):
    from bot.runtime import build_assistant

    return build_assistant(settings, nlu=nlu_model)


@pytest.fixture
def user() -> str:
    """A fresh user id, so each test starts its own conversation."""
    return f"test-user-{next(_users)}"


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
