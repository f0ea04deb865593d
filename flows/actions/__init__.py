"""The actions flows can run, registered by name in `registry`."""

from flows.registry import ActionRegistry

registry = ActionRegistry()

# Importing the modules registers their actions.
from flows.actions import (  # noqa: E402,F401
    conversation,
    desk,
    dossier_status,
    dossier_status_lookup,  # noqa: E402,F401
    online_submission,
    portal_help,
    procedure_info,
)

__all__ = ["registry"]
