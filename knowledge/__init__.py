"""Procedure knowledge: the national catalog, curated guides, and search over them.

from knowledge import link_decision, load_knowledge
kb = load_knowledge()
hits = kb.search("lam giay khai sinh cho con", k=5)
link_decision([h.score for h in hits])   # "confident" | "ambiguous" | "weak"
"""

from ._documents import (
    CoreDocument,
    DocumentSelection,
    clean_name,
    document_key,
    find_document,
    form_codes,
    normal_code,
    select_documents,
)
from ._fees import VIETNAM, Amount, FeeToday, fee_on, fee_value, format_amount, in_vietnam, mentions_other_charges, vietnam_date
from ._knowledge_base import KnowledgeBase, SearchHit, load_knowledge
from ._names import NAME_CHARS, base_name, display_name, distinct_names, how_it_differs, shorten
from ._search import MENTIONED, link_decision
from ._text import fold, fold_words
from .schema import Guide, Procedure

__all__ = [
    "MENTIONED", "NAME_CHARS", "VIETNAM", "Amount", "CoreDocument", "DocumentSelection", "FeeToday", "Guide",
    "KnowledgeBase", "Procedure", "SearchHit", "base_name", "clean_name", "display_name", "distinct_names",
    "document_key", "fee_on", "fee_value", "find_document", "fold", "fold_words", "form_codes", "format_amount",
    "how_it_differs", "in_vietnam", "link_decision", "load_knowledge", "mentions_other_charges", "normal_code",
    "select_documents", "shorten", "vietnam_date",
]
