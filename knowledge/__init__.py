"""Procedure knowledge: the national catalog, curated guides, and search over them.

from knowledge import link_decision, load_knowledge
kb = load_knowledge()
hits = kb.search("lam giay khai sinh cho con", k=5)
link_decision([h.score for h in hits])   # "confident" | "ambiguous" | "weak"
"""

from ._knowledge_base import KnowledgeBase, SearchHit, load_knowledge
from ._search import MENTIONED, link_decision
from ._text import fold, fold_words
from .schema import Guide, Procedure

__all__ = [
    "MENTIONED", "Guide", "KnowledgeBase", "Procedure", "SearchHit", "fold", "fold_words", "link_decision", "load_knowledge"
]
