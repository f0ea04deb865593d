"""The shipped knowledge: catalog lines, guides, and the public API other packages use."""

from __future__ import annotations

import json

import pytest

from knowledge import Guide, KnowledgeBase, Procedure, SearchHit, fold, load_knowledge
from knowledge._knowledge_base import KNOWLEDGE_ROOT

CATALOG = KNOWLEDGE_ROOT / "catalog"


def test_public_api_is_exported():
    import knowledge

    assert {"MENTIONED", "Guide", "KnowledgeBase", "Procedure", "SearchHit", "fold", "fold_words", "link_decision",
            "load_knowledge", "select_documents", "fee_on", "display_name"} <= set(knowledge.__all__)
    assert all(hasattr(knowledge, name) for name in knowledge.__all__)
    assert callable(fold) and issubclass(Procedure, object) and issubclass(Guide, object) and SearchHit


def test_load_is_cached(kb):
    assert load_knowledge() is kb
    assert isinstance(kb, KnowledgeBase)


def test_whole_catalog_is_shipped(kb):
    procedures = kb.procedures
    assert len(procedures) == len(kb) == 2642
    assert len({p.code for p in procedures}) == 2642
    assert {p.ministry for p in procedures} == {path.stem for path in CATALOG.glob("*.jsonl")}


def test_shipped_files_are_small_and_carry_no_page_text():
    for path in CATALOG.glob("*.jsonl"):
        assert path.stat().st_size < 20_000_000
        assert '"raw_text"' not in path.read_text(encoding="utf-8")


def test_coverage_report_matches_the_catalog(kb):
    coverage = json.loads((CATALOG / "COVERAGE.json").read_text(encoding="utf-8"))
    assert coverage["records"] == len(kb)
    assert coverage["catalog_date"] == "2026-06"
    assert coverage["fields"]["channels"]["records"] == sum(1 for p in kb.procedures if p.channels)


@pytest.mark.parametrize(
    "code, name, levels, online_fee, in_person_fee",
    [
        ("1.001193", "Thủ tục đăng ký khai sinh", ["xa"], "free", "free"),
        ("1.004222", "Đăng ký thường trú", ["xa"], [10_000], [20_000]),
        ("1.001456", "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)", ["tinh"], [160_000], [200_000]),
    ],
)
def test_facts_of_known_records(kb, code, name, levels, online_fee, in_person_fee):
    procedure = kb.get(code)
    assert procedure.name == name and procedure.levels == levels

    def fee(kind):
        channel = procedure.channel(kind)
        return channel.fee.kind if channel.fee.kind == "free" else [a.value for a in channel.fee.amounts]

    assert (fee("online"), fee("in_person")) == (online_fee, in_person_fee)
    assert procedure.source_url.startswith("https://dichvucong.gov.vn/thu-tuc-hanh-chinh/")


def test_unknown_code(kb):
    assert kb.get("9.999999") is None
    assert kb.guide("9.999999") is None
    assert kb.names_for("9.999999") == []


def test_online_level_is_explained(kb):
    stated = kb.get("1.012575")
    assert (stated.online_level, stated.online_level_basis, stated.online_level_legacy) == ("full", "stated", "mức độ 4")
    in_person_only = kb.get("2.000815")
    assert (in_person_only.online_level, in_person_only.online_level_basis) == ("none", "inferred")
    assert in_person_only.online_level_legacy is None


def test_forty_guides_on_existing_records(kb):
    assert len(kb.guides) == 40
    assert len({g.code for g in kb.guides}) == 40
    for guide in kb.guides:
        assert kb.get(guide.code) is not None, guide.slug
        assert kb.guide(guide.code) is guide
        assert kb.guide_by_slug(guide.slug) is guide


@pytest.mark.parametrize(
    "slug",
    [
        "khai-sinh", "khai-tu", "ket-hon", "xac-nhan-tinh-trang-hon-nhan", "dang-ky-thuong-tru", "dang-ky-tam-tru",
        "cap-can-cuoc", "cap-doi-can-cuoc", "cap-lai-can-cuoc", "ho-chieu", "ly-lich-tu-phap", "chung-thuc-ban-sao",
        "chung-thuc-chu-ky", "dang-ky-ho-kinh-doanh", "so-do-lan-dau", "sang-ten-so-do", "giay-phep-xay-dung-nha-o",
        "dang-ky-xe-lan-dau", "doi-giay-phep-lai-xe", "cap-lai-so-bhxh-the-bhyt",
    ],
)  # fmt: skip
def test_required_guides_exist(kb, slug):
    assert kb.guide_by_slug(slug) is not None


def test_every_guide_is_found_by_its_title(kb):
    missed = [g.slug for g in kb.guides if kb.search(g.title, k=1)[0].code != g.code]
    assert missed == []


def test_names_for_lists_official_name_then_aliases(kb):
    names = kb.names_for("1.001193")
    assert names[0] == "Thủ tục đăng ký khai sinh"
    assert "làm giấy khai sinh" in names and "lam giay khai sinh" in names
    assert len(names) == len(set(names))
    assert kb.names_for("1.000110") == [kb.get("1.000110").name]


def test_walkthrough_matches_the_way_the_record_is_done(kb):
    for guide in kb.guides:
        procedure = kb.get(guide.code)
        if procedure.online_level in ("full", "partial"):
            steps = guide.steps_for(procedure.online_level, has_fee=procedure.has_fee)
            assert [s.id for s in steps][:2] == ["chuan-bi", "chup-giay-to"], guide.slug
            assert "nop-ho-so" in [s.id for s in steps], guide.slug
        else:
            assert guide.online_walkthrough == [] and guide.in_person_notes, guide.slug


def test_payment_step_only_when_the_record_has_a_fee(kb):
    free = kb.guide("1.001193")
    assert not kb.get("1.001193").has_fee
    assert "thanh-toan" not in [s.id for s in free.steps_for("partial", has_fee=False)]
    paid = kb.get("1.014063")
    assert paid.has_fee and "thanh-toan" in [s.id for s in kb.guide("1.014063").steps_for("partial", has_fee=True)]


def test_full_online_skips_the_office_visit(kb):
    guide = kb.guide("1.012575")
    full = [s.id for s in guide.steps_for("full")]
    partial = [s.id for s in guide.steps_for("partial")]
    assert "doi-chieu" not in full and "nhan-ket-qua-truc-tuyen" in full
    assert "doi-chieu" in partial and "nhan-ket-qua-truc-tuyen" not in partial


def test_guides_copy_no_facts_from_the_record(kb):
    """Fees, times and amounts are read from the record, never written in a guide."""
    for path in (KNOWLEDGE_ROOT / "guides").glob("*.yml"):
        text = fold(path.read_text(encoding="utf-8"))
        for pattern in ("dong", "ngay lam viec", "vnd", "usd"):
            assert f"000 {pattern}" not in text and f" {pattern}/" not in text, (path.name, pattern)


def test_aliases_come_with_and_without_diacritics(kb):
    for guide in kb.guides:
        folded = {fold(a) for a in guide.aliases}
        assert folded <= set(guide.aliases), guide.slug
