"""Procedure knowledge: the national catalog, curated guides, and search over them.

from knowledge import load_knowledge
kb = load_knowledge()
kb.search("lam giay khai sinh cho con", k=5)
"""

from ._knowledge_base import KnowledgeBase, SearchHit, load_knowledge
from ._text import fold
from .schema import Guide, Procedure

__all__ = ["Guide", "KnowledgeBase", "Procedure", "SearchHit", "fold", "load_knowledge"]
