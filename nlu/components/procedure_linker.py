"""A Rasa component that links a message to the procedures it is about.

At training time it takes the knowledge base's search index (built from
knowledge/: every catalog name plus the curated guides' colloquial names) and
persists it with the model, with the short-form lexicon and the question phrases,
so a model answers the same way wherever it is loaded. Each message is searched
whole and clause by clause (nlu/procedure_query.py) in linking mode (knowledge._search.Linking:
the words that ask about a part cost nothing, a name mentioned in a long message scores close to
the name alone); a procedure keeps its best score, less when only the story (a sentence before
the one that asks) names it.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge._search import MARGIN, MENTIONED, LightWords, Linking, link_decision, share_index
from nlu.components.normalizer import ORIGINAL_TEXT
from nlu.normalize import LEXICON_FILE, Lexicon
from nlu.procedure_query import (
    ASPECTS_FILE,
    QUESTION_PHRASES_FILE,
    QuestionPhrases,
    TypedShortForms,
    asking_words,
    story_queries,
)

PROCEDURES = "procedures"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ProcedureLinker(GraphComponent):
    """Adds `procedures`: ranked [{code, name, score}] for the message, scores in [0, 1]."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # how many candidate procedures to return
            "top_k": 5,
            # candidates scoring below this are dropped (the flows apply their own,
            # higher thresholds; this only keeps noise out of the ranking)
            "min_score": 0.1,
            # a procedure found only in a sentence before the one that asks (the story people
            # tell before they ask) scores this much of its match
            "context_clause_weight": 0.9,
            # ... and this much when a clause of the question confidently names a procedure itself
            "story_weight": 0.8,
            # YAML of short forms to expand before searching (as the normaliser's)
            "lexicon": str(LEXICON_FILE),
            # YAML of phrases that ask about a procedure and are dropped before searching
            "question_phrases": str(QUESTION_PHRASES_FILE),
            # YAML whose aspect anchors (the words that ask about a part) cost a name nothing
            "aspects": str(ASPECTS_FILE),
            # how much a word of the message that no close candidate has counts against a name
            "chatter_weight": 0.3,
            # close candidates (whose words tell procedures apart) score at least this share of
            # the best when the message's other words are counted at chatter_weight
            "close_share": 0.9,
            # the chatter weight rises towards 1 as (1 - the share of a name the message has) to this
            # power: a sliver of a name ("xe máy" of a long one) is no mention of it
            "sliver": 2.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        # Rasa caches a trained component by its config and inputs; the knowledge base and
        # the word lists are neither, so without this a retrain would reuse a stale index.
        from nlu.train import KNOWLEDGE_INPUTS, fingerprint

        digest = hashlib.sha256(fingerprint(inputs=KNOWLEDGE_INPUTS).encode())
        full = {**cls.get_default_config(), **config}
        # The code that builds the pickled lexicon and phrases too: a changed class must not be
        # loaded from an artefact pickled by the old one.
        code = [Path(__file__).resolve().parent.parent / name for name in ("normalize.py", "procedure_query.py")]
        for path in [Path(full["lexicon"]), Path(full["question_phrases"]), Path(full["aspects"]), *code]:
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(f"missing {path}".encode())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        unknown = set(config) - set(self.get_default_config())
        if unknown:
            raise ValueError(f"ProcedureLinker: unknown option(s) {sorted(unknown)}")
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._index: Any = None
        self._names: Dict[str, str] = {}
        self._lexicon: Lexicon | None = None
        self._phrases: QuestionPhrases | None = None
        self._linking: Linking | None = None
        self._shorts: TypedShortForms | None = None

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
    ) -> ProcedureLinker:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from knowledge import load_knowledge

        try:
            self._lexicon = Lexicon.from_yaml(Path(self.config["lexicon"]))
            self._phrases = QuestionPhrases.from_yaml(Path(self.config["question_phrases"]), self._lexicon)
            light = LightWords(asking_words(Path(self.config["aspects"])))
            self._shorts = TypedShortForms.from_yaml(Path(self.config["lexicon"]), self._lexicon)
        except (OSError, ValueError) as e:
            raise ValueError(f"ProcedureLinker: cannot read its word lists: {e}") from e
        from knowledge._knowledge_base import index_key

        self._linking = Linking(light, self.config["chatter_weight"], self.config["close_share"], self.config["sliver"])
        kb = load_knowledge()
        self._index = kb.index  # the knowledge base's own search, frozen into the model
        self._names = {p.code: p.name for p in kb.procedures}
        artefact = {"index": self._index, "index_key": index_key(), "names": self._names,
                    "lexicon": self._lexicon, "phrases": self._phrases, "linking": self._linking,
                    "shorts": self._shorts}
        with self._storage.write_to(self._resource) as model_dir:
            (model_dir / "index.pickle").write_bytes(pickle.dumps(artefact, protocol=pickle.HIGHEST_PROTOCOL))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ProcedureLinker:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                # Our own artefact, written by train() above into the model archive.
                artefact = pickle.loads((model_dir / "index.pickle").read_bytes())
            # One index per process: the knowledge base of the same files uses this one (or we use its).
            key = artefact.get("index_key")
            component._index = share_index(key, lambda: artefact["index"]) if key else artefact["index"]
            component._names = artefact["names"]
            component._lexicon, component._phrases = artefact["lexicon"], artefact["phrases"]
            component._linking, component._shorts = artefact["linking"], artefact["shorts"]
        except (ValueError, FileNotFoundError, KeyError, TypeError) as e:
            raise ValueError(f"ProcedureLinker: the model has no procedure index ({resource.name}): {e}") from e
        return component

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""
            message.set(PROCEDURES, self._link(text), add_to_output=True)
        return messages

    def _variant_cap(self, code: str, whole: Dict[str, float], said: frozenset) -> float:
        """The most a clause may score `code` when the whole message fits better a variant of it that
        its everyday words say (knowledge/signals.yml): the whole message holds the words that tell
        the variants apart ("lấy chồng Hàn Quốc … đăng ký kết hôn cần gì": có yếu tố nước ngoài), a
        clause only its own, so the variant stays MARGIN ahead."""
        own = whole.get(code, 0.0)
        better = [score for other, score in whole.items()
                  if score > own and self._index.variant_said(code, other, said)]
        return max(own, max(better) - MARGIN) if better else 1.0

    def _link(self, text: str) -> List[Dict[str, Any]]:
        if self._index is None or self._lexicon is None or self._phrases is None or not text.strip():
            return []
        top_k = self.config["top_k"]
        best: Dict[str, float] = {}
        numbered = story_queries(text, self._lexicon, self._phrases, self._shorts)
        if not numbered:  # only question words: nothing named
            return []
        found = [self._index.search(query, top_k, linking=self._linking) for query, _ in numbered]
        # The sentence that asks: the last one whose clauses mention a procedure ("cần giấy gì?" after
        # it only asks about it); the sentences before it are the person's story.
        asking = max((n for (_, n), hits in zip(numbered[1:], found[1:]) if hits and hits[0][1] >= MENTIONED),
                     default=0)
        queries = [(query, n >= asking) for query, n in numbered]
        whole = {code: float(score) for code, score, _ in found[0]}
        said = self._index.said(text)
        # With a story before the question, a procedure that only the story names (the whole message
        # finds it, no clause of the question does) is context too ("bố tôi mất, đã làm giấy chứng tử.
        # Giờ muốn sang tên sổ đỏ …" asks about sổ đỏ).
        story = any(not asked for _, asked in queries[1:])
        asked_codes = {code for (_, asked), hits in zip(queries[1:], found[1:]) if asked for code, _, _ in hits}
        # A question that names a procedure itself follows its own clause: the story's weigh less.
        named = any(asked and link_decision([score for _, score, _ in hits]) == "confident"
                    for (_, asked), hits in zip(queries[1:], found[1:]))
        context = self.config["story_weight" if named and story else "context_clause_weight"]
        for position, ((_, asked), hits) in enumerate(zip(queries, found)):
            if position > 0 and link_decision([score for _, score, _ in hits]) != "confident":
                # A clause that alone fits many procedures ("đăng ký ở đâu") adds only those the whole
                # message fits too: its look-alikes of a name said elsewhere, not every "đăng ký …".
                hits = [hit for hit in hits if hit[0] in whole]
            for code, score, _matched in hits:
                in_story = not asked or position == 0 and story and code not in asked_codes
                score = (context if in_story else 1.0) * float(score)
                if position > 0 and said:
                    score = min(score, self._variant_cap(code, whole, said))
                if score > best.get(code, 0.0):
                    best[code] = score
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:top_k]
        return [
            {"code": code, "name": self._names.get(code, code), "score": round(score, 4)}
            for code, score in ranked
            if score >= self.config["min_score"]
        ]
