"""Channel adapters: each turns its platform's messages into Assistant turns and renders the replies.

A channel module exposes `attach(app, assistant, settings) -> None`: it adds its routes
(webhooks) to the aiohttp app and starts/stops its background work with the app
(`app.cleanup_ctx`), so `make run` serves every configured channel from one process.
The web chat is always on; Telegram and Zalo start when their settings are present.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from bot.assistant import Assistant
    from bot.settings import Settings

log = logging.getLogger(__name__)

# channel name -> (module, whether the settings enable it)
CHANNELS = {
    "telegram": ("bot.channels.telegram", lambda s: s.telegram_enabled),
    "zalo": ("bot.channels.zalo", lambda s: s.zalo_enabled),
}


def attach_channels(app: web.Application, assistant: Assistant, settings: Settings) -> list[str]:
    """Attaches every channel whose settings are present; answers their names."""
    started = []
    for name, (module, enabled) in CHANNELS.items():
        if not enabled(settings):
            continue
        importlib.import_module(module).attach(app, assistant, settings)
        started.append(name)
    return started
