"""Zalo's tokens in the database when several workers start together on a new database."""

from __future__ import annotations

import threading

from bot.channels.zalo import TokenStore
from bot.settings import Settings
from bot.storage import Store


def test_workers_starting_together_on_a_new_database_all_start(database_url):
    """Each worker saves the settings' tokens at start; none may fail because another saved them first."""
    settings = Settings.load(environ={"DATABASE_URL": database_url, "ZALO_ACCESS_TOKEN": "access-1",
                                      "ZALO_REFRESH_TOKEN": "refresh-1"}, env_file=None)
    Store.open(database_url)  # migrated once, as the workers' parent does
    workers = 6
    stores = [Store.open(database_url) for _ in range(workers)]
    started = threading.Barrier(workers)
    failures: list[BaseException] = []

    def start(store: Store) -> None:
        tokens = TokenStore(store, settings)
        started.wait()
        try:
            tokens.load()
        except BaseException as error:  # noqa: BLE001 - any failure is the worker not starting
            failures.append(error)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    tokens, source = TokenStore(stores[0], settings).load()
    assert (tokens.access_token, tokens.refresh_token, source) == ("access-1", "refresh-1", "database")
