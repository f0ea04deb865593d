"""Dossier status: providers (the local registry, one-door systems' lookup APIs), pushed events,
the second factor and lookup limits, and subscriptions with notices through the outbox."""

from bot.dossiers.registry import (
    BATCH,
    DEMO_FILE,
    FIELDS,
    DossierFileError,
    LocalDossierProvider,
    import_dossier_file,
    read_dossier_file,
    save_dossiers,
    sync_demo_dossiers,
)

__all__ = [
    "BATCH",
    "DEMO_FILE",
    "FIELDS",
    "DossierFileError",
    "LocalDossierProvider",
    "import_dossier_file",
    "read_dossier_file",
    "save_dossiers",
    "sync_demo_dossiers",
]
