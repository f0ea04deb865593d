"""Shared fixtures: the real trained NLU model and a real Assistant on a real database.

Everything that stores (the database tests, the conversation scenarios, the channel suites) runs once on
a temporary SQLite file and once on a throwaway PostgreSQL server (tests/pg/server.py), through the
session fixture `db_backend`. `pytest --db sqlite` (or TEST_DB=sqlite) runs SQLite only, `--db postgresql`
PostgreSQL only; the default is both.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.settings import Settings  # noqa: E402

_users = itertools.count(1)
_databases = itertools.count(1)
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", choices=(*BACKENDS, "both"), default=os.environ.get("TEST_DB", "both"),
        help="database(s) the storing tests run on (default both; TEST_DB sets it too)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        backends = list(BACKENDS) if chosen == "both" else [chosen]
        metafunc.parametrize("db_backend", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    """"sqlite" or "postgresql": each storing test runs once with each (see --db)."""
    return request.param


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A throwaway PostgreSQL server for the whole run, started the first time a test needs one."""
    from tests.pg.server import PostgresUnavailable, ThrowawayPostgres

    try:
        server = ThrowawayPostgres().start()
    except PostgresUnavailable as e:
        pytest.exit(f"{e}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def new_database(db_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                 ) -> Callable[[str], str]:
    """Makes an empty database on the backend under test; answers its SQLAlchemy URL."""
    if db_backend == "sqlite":
        folder = tmp_path_factory.mktemp("db")
        return lambda name: f"sqlite:///{folder / f'{name}-{next(_databases)}.db'}"
    server = request.getfixturevalue("postgres")
    return lambda name: server.create_database(f"{name.replace('-', '_')}_{next(_databases)}")


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """An empty database on the run's throwaway PostgreSQL server, for tests that are about PostgreSQL itself
    (skipped when the run is SQLite only: --db sqlite or TEST_DB=sqlite)."""
    if request.config.getoption("--db") == "sqlite":
        pytest.skip("PostgreSQL-only test; this run is --db sqlite")
    server = request.getfixturevalue("postgres")
    return server.create_database(f"{request.node.originalname[:40]}_{next(_databases)}")


@pytest.fixture
def database_url(new_database: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    """A fresh empty database for one test."""
    return new_database(request.node.originalname[:40])


@pytest.fixture(scope="session")
def settings(new_database: Callable[[str], str]) -> Settings:
    return Settings.load(environ={"DATABASE_URL": new_database("session")}, env_file=None)


@pytest.fixture(scope="session")
def nlu_model():
    """The trained model: the same on every database, so it is loaded once."""
    from nlu.model import ModelMissingError, NluModel

    try:
        return NluModel.load(Settings.load(environ={}, env_file=None).model_path)
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
