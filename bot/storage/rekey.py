"""Key rotation: re-encrypts every encrypted column with the newest data key.

Put a new key first in DATA_KEY (`new,old`), run `python -m bot privacy rekey`, then drop the old
key. Columns are found by their type in the models, so a table added later is included.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Table, Text, and_, column, select, table, update

from bot.storage.crypto import EncryptedJSON, EncryptedText, keyring_of
from bot.storage.db import Store
from bot.storage.models import Base

log = logging.getLogger(__name__)
BATCH = 500


def encrypted_columns() -> list[tuple[Table, Column]]:
    """(table, column) of every column stored encrypted."""
    return [
        (t, c) for t in Base.metadata.sorted_tables for c in t.columns
        if isinstance(c.type, (EncryptedText, EncryptedJSON))
    ]


def rekey(store: Store) -> int:
    """Re-encrypts every encrypted value with the first key of the engine's keyring; answers how many.
    One transaction per batch of rows; running it again (after a stop) is harmless."""
    keyring = keyring_of(store.engine.dialect)
    done = 0
    for mapped, encrypted in encrypted_columns():
        keys = [c.name for c in mapped.primary_key.columns]
        raw = table(mapped.name, *(column(k) for k in keys), column(encrypted.name, Text))  # the tokens as stored
        query = select(*(raw.c[k] for k in keys), raw.c[encrypted.name]).order_by(*(raw.c[k] for k in keys))
        offset = 0
        while True:
            with store.engine.begin() as connection:
                rows = connection.execute(query.offset(offset).limit(BATCH)).all()
                for row in rows:
                    if row[-1] is not None:
                        where = and_(*(raw.c[k] == row[i] for i, k in enumerate(keys)))
                        connection.execute(update(raw).where(where).values({encrypted.name: keyring.rotate(row[-1])}))
                        done += 1
            if len(rows) < BATCH:
                break
            offset += BATCH
        log.info("rekey: %s.%s re-encrypted", mapped.name, encrypted.name)
    return done
