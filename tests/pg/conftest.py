"""tests/pg/ runs against PostgreSQL only (skipped with --db sqlite)."""

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "sqlite":
        for item in items:
            if "/tests/pg/" in str(item.fspath) and "sqlite" not in item.name:
                item.add_marker(pytest.mark.skip(reason="--db sqlite: no PostgreSQL in this run"))
