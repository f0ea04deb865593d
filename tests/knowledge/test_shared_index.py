"""The search index is built (or unpickled) once per process and shared by the knowledge base and the model."""

from knowledge import load_knowledge
from knowledge._knowledge_base import index_key
from knowledge._search import _SHARED


def test_the_model_and_the_knowledge_base_use_one_index(nlu_model):
    kb = load_knowledge()
    assert _SHARED[index_key()] is kb.index
    components = [node._component for node in nlu_model._graph.runner._instantiated_nodes.values()]
    linkers = [c for c in components if type(c).__name__ == "ProcedureLinker"]
    assert linkers and all(linker._index is kb.index for linker in linkers)


def test_an_index_is_named_by_its_version_and_the_files_it_was_built_from(tmp_path, monkeypatch):
    from knowledge._search import SearchIndex

    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "a.jsonl").write_text('{"code":"1.1","name":"Đăng ký khai sinh"}\n', encoding="utf-8")
    first = index_key(tmp_path)
    assert index_key(tmp_path) == first
    (tmp_path / "catalog" / "a.jsonl").write_text('{"code":"1.1","name":"Đăng ký kết hôn"}\n', encoding="utf-8")
    assert index_key(tmp_path) != first
    monkeypatch.setattr(SearchIndex, "VERSION", SearchIndex.VERSION + 1)
    assert not index_key(tmp_path).startswith(first.split("-")[0] + "-")
