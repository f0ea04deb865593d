"""The desk app's shared state (typed app keys) and the audit log for page actions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.handover import Handover
from bot.users import Accounts, audit

ACCOUNTS_KEY = web.AppKey("desk_accounts", Accounts)
HANDOVER_KEY = web.AppKey("desk_handover", Handover)
ASSISTANT_KEY = web.AppKey("desk_assistant", object)
SETTINGS_KEY = web.AppKey("desk_settings", object)


def accounts(request: web.Request) -> Accounts:
    return request.config_dict[ACCOUNTS_KEY]


def handover(request: web.Request) -> Handover:
    return request.config_dict[HANDOVER_KEY]


def assistant(request: web.Request) -> Any:
    return request.config_dict[ASSISTANT_KEY]


def settings(request: web.Request) -> Any:
    return request.config_dict[SETTINGS_KEY]


def audit_action(request: web.Request, action: str, detail: str = "") -> None:
    """One audit line for what the signed-in person did (detail already masked by the caller)."""
    from bot.desk_web.security import ME

    store = accounts(request).store
    with store.session() as session, session.begin():
        audit(session, request.get(ME), action, detail)
