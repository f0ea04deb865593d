"""The actions flows can run, registered by name in `registry`."""

from flows.registry import ActionRegistry

registry = ActionRegistry()

# Importing the modules registers their actions.
from flows.actions import conversation, desk, dossier_status, online_submission, portal_help, procedure_info  # noqa: E402,F401

__all__ = ["registry"]
