"""The web chat and the JSON chat endpoint, on one aiohttp application."""

from bot.web.app import ASSISTANT, create_app

__all__ = ["ASSISTANT", "create_app"]
