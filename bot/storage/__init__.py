"""Storage: users, conversations, messages and flow state through SQLAlchemy."""

from bot.storage.db import Store, migrate
from bot.storage.models import Conversation, Message, User

__all__ = ["Conversation", "Message", "Store", "User", "migrate"]
