"""Storage: users, conversations, messages and flow state through SQLAlchemy."""

from bot.storage.db import Store, migrate
from bot.storage.models import ChannelEvent, ChannelState, Conversation, Dossier, Feedback, Message, Ticket, User

__all__ = ["ChannelEvent", "ChannelState", "Conversation", "Dossier", "Feedback", "Message", "Store", "Ticket", "User", "migrate"]
