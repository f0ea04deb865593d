"""The held-out evaluation sets are well formed, labelled with real catalog codes, and as varied as promised.

The sets are written by someone who did not see the training data; these checks only guard their shape,
so that a benchmark never scores against a mistyped label or a code that is not in the catalog. Every check
runs on each set: the first sets (now dev sets) and the fresh `*_b.yml` test sets, each written by another
independent author; a set not yet merged into this branch is skipped, saying which file is missing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "data"
ANSWERS_SETS = ("answers_first_messages.yml", "answers_first_messages_b.yml")
NLU_SETS = ("nlu_heldout_real.yml", "nlu_heldout_real_b.yml")
CATALOG = ROOT / "knowledge" / "catalog"
# The fields of the procedures citizens ask about most (civil status, residence, căn cước, passports, criminal
# record, certification, land, construction, vehicles, driving licences, social and health insurance, household
# business, allowances); the fresh NLU set promises a third of its questions on procedures of other fields.
COMMON_FIELDS = {
    "Hộ tịch", "Chứng thực", "Đăng ký, quản lý cư trú", "Cấp, quản lý căn cước", "Quản lý xuất nhập cảnh",
    "Lý lịch tư pháp", "Đất đai", "Hoạt động xây dựng",
    "Đăng ký, quản lý phương tiện giao thông cơ giới, xe máy chuyên dùng", "Sát hạch, cấp giấy phép lái xe",
    "Thực hiện chính sách BHXH", "Thu BHXH, BHYT, BHTN, BH tai nạn lao động, BNN", "Cấp sổ BHXH, thẻ BHYT",
    "Chi trả các chế độ BHXH", "Thực hiện chính sách BHYT", "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)",
    "Chính sách", "Người có công",
}

ASPECTS = {"documents", "fee", "time", "where", "conditions", "result", "legal", "steps", "forms", "who",
           "online", "postal"}
REGISTERS = {"formal", "chat", "teencode", "long", "relay"}
ACTS = {"ask", "submit_online", "check_status", "subscribe_status", "complain", "request_human", "rate", "greet",
        "thank", "goodbye", "bot_challenge", "affirm", "deny", "cancel", "out_of_scope", "delete_data",
        "portal_help"}
TAGS = {"followup", "two_questions", "rule_question", "code_typed", "long_story", "relay"}
FLOW_ACTS = {"complain", "request_human", "submit_online", "rate"}
DOSSIER_LIKE = re.compile(r"[0o]{2,3}[\s.\-]*[0o]{2}[\s.\-]*\d{2}[\s.\-]*h\d{2}|h\d{2}\s*[-–]\s*\d{6}", re.I)
STEPS_WORDS = ("trình tự", "các bước", "thế nào", "như thế nào", "làm sao", "ntn", "trinh tu", "cac buoc",
               "the nao", "lam sao", "thủ tục thế nào", "bước")
FORM_CODE = re.compile(r"\b(CT0\d|TK0\d[a-z]?|TK1-TS|DC0\d|14-HSB|0\d/2025/LLTP|mẫu số 18)\b", re.I)


def _has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese tone or vowel mark, or the letter đ."""
    if "đ" in text.lower():
        return True
    return any(unicodedata.category(ch) == "Mn" for ch in unicodedata.normalize("NFD", text))


def _load(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, list), f"{path}: expected a YAML list"
    return data


def _load_set(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in this branch yet (written by another author in another branch)")
    return _load(path)


@pytest.fixture(scope="module")
def catalog_fields() -> dict[str, str]:
    """Every catalog code with its field (linh vực)."""
    fields: dict[str, str] = {}
    for file in sorted(CATALOG.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                fields[record["code"]] = record.get("field") or ""
    assert len(fields) > 1000
    return fields


@pytest.fixture(scope="module")
def catalog_codes(catalog_fields: dict[str, str]) -> set[str]:
    return set(catalog_fields)


@pytest.fixture(scope="module", params=ANSWERS_SETS)
def answers(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _load_set(request.param)


@pytest.fixture(scope="module", params=NLU_SETS)
def nlu(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _load_set(request.param)


@pytest.fixture(scope="module")
def nlu_b() -> list[dict[str, Any]]:
    return _load_set("nlu_heldout_real_b.yml")


def _check_common(where: str, item: dict[str, Any], codes: set[str]) -> None:
    text = item["text"]
    assert isinstance(text, str) and text.strip() == text and text, f"{where}: empty or padded text"
    assert item["register"] in REGISTERS, f"{where}: register {item['register']!r}"
    assert isinstance(item["diacritics"], bool), f"{where}: diacritics must be true/false"
    assert item["diacritics"] == _has_diacritics(text), f"{where}: diacritics={item['diacritics']} for {text!r}"
    aspects = item["aspects"]
    assert isinstance(aspects, list) and set(aspects) <= ASPECTS, f"{where}: aspects {aspects}"
    assert len(set(aspects)) == len(aspects), f"{where}: repeated aspect"
    procedures = item["procedures"]
    assert isinstance(procedures, list), f"{where}: procedures must be a list"
    unknown = [c for c in procedures if c not in codes]
    assert not unknown, f"{where}: codes not in the catalog: {unknown}"
    assert len(set(procedures)) == len(procedures), f"{where}: repeated code"


def test_answers_items_are_well_formed(answers: tuple[str, list[dict[str, Any]]], catalog_codes: set[str]) -> None:
    name, answers_ = answers
    fields = {"text", "procedures", "aspects", "register", "diacritics", "two_questions"}
    texts = Counter(item["text"] for item in answers_)
    assert not [t for t, n in texts.items() if n > 1], f"{name}: duplicate texts"
    for i, item in enumerate(answers_):
        where = f"{name} item {i + 1}"
        assert set(item) == fields, f"{where}: fields {sorted(item)}"
        _check_common(where, item, catalog_codes)
        assert isinstance(item["two_questions"], bool), where
        # Out of scope has no aspect; in scope names one, except a bare topic ("khai tử") in the b set.
        assert item["procedures"] or not item["aspects"], f"{where}: aspects without a procedure"
        if name == ANSWERS_SETS[0]:
            assert bool(item["procedures"]) == bool(item["aspects"]), f"{where}: procedures and aspects disagree"


def test_answers_mix(answers: tuple[str, list[dict[str, Any]]]) -> None:
    name, answers = answers
    n = len(answers)
    # issue #10 asks for at least 150 first messages; the first set promised 160
    assert n >= (160 if name == ANSWERS_SETS[0] else 150), f"{name}: {n} messages"
    reg = Counter(item["register"] for item in answers)
    aspect = Counter(a for item in answers for a in item["aspects"])
    plain = sum(not item["diacritics"] for item in answers)
    assert 0.35 * n <= plain <= 0.65 * n, f"{plain} of {n} without diacritics"
    assert reg["formal"] >= 0.18 * n
    assert reg["chat"] + reg["teencode"] >= 0.30 * n
    assert reg["long"] >= 0.15 * n
    assert reg["relay"] >= 0.08 * n
    assert sum(item["two_questions"] for item in answers) >= 20
    if name == ANSWERS_SETS[0]:
        assert aspect["steps"] >= 15 and aspect["forms"] >= 12 and aspect["who"] >= 10
    else:  # the b set's brief asked for a mix of registers and every part, not these counts
        assert all(aspect[a] >= 3 for a in ASPECTS), aspect
    yes_no_end = re.compile(r"(không|khong|ko|k|chưa|chua)\s*[?]?$|được không|dc ko|dc k")
    yes_no = [i for i in answers if "conditions" in i["aspects"] and yes_no_end.search(i["text"].lower())]
    assert len(yes_no) >= 10, f"{len(yes_no)} yes/no condition questions"
    for part in ("fee", "time", "where", "documents"):
        assert aspect[part] >= 12, part
    if name == ANSWERS_SETS[0]:  # FORM_CODE lists the codes that set types
        typed_codes = [i for i in answers if FORM_CODE.search(i["text"])]
        assert len(typed_codes) >= 5, "form codes typed as people type them"
    out_of_scope = [i for i in answers if not i["procedures"]]
    assert 10 <= len(out_of_scope) <= 20


def test_nlu_items_are_well_formed(nlu: tuple[str, list[dict[str, Any]]], catalog_codes: set[str]) -> None:
    name, nlu_ = nlu
    fields = {"text", "act", "aspects", "procedures", "context", "register", "diacritics", "tags"}
    texts = Counter(item["text"] for item in nlu_)
    assert not [t for t, n in texts.items() if n > 1], f"{name}: duplicate texts"
    for i, item in enumerate(nlu_):
        where = f"{name} item {i + 1}"
        assert set(item) == fields, f"{where}: fields {sorted(item)}"
        _check_common(where, item, catalog_codes)
        assert item["act"] in ACTS, f"{where}: act {item['act']!r}"
        tags = item["tags"]
        assert isinstance(tags, list) and set(tags) <= TAGS, f"{where}: tags {tags}"
        context = item["context"]
        assert isinstance(context, list) and all(isinstance(c, str) and c for c in context), where
        if item["act"] == "ask":
            assert item["aspects"], f"{where}: a question names at least one aspect"
        else:
            assert item["aspects"] == [] and item["procedures"] == [], f"{where}: only questions carry labels"
        assert ("followup" in tags) == bool(context), f"{where}: follow-ups and only they have context"
        assert ("long_story" in tags) == (item["register"] == "long"), f"{where}: long register <-> long_story"
        assert ("relay" in tags) == (item["register"] == "relay"), f"{where}: relay register <-> relay tag"
        if "two_questions" in tags:
            assert len(item["aspects"]) >= 2, f"{where}: two questions, two aspects"
        if item["act"] == "check_status" and "code_typed" in tags:
            assert DOSSIER_LIKE.search(item["text"]), f"{where}: no dossier code in {item['text']!r}"


def test_nlu_mix(nlu: tuple[str, list[dict[str, Any]]]) -> None:
    name, nlu = nlu
    n = len(nlu)
    assert n >= 320
    reg = Counter(item["register"] for item in nlu)
    tags = Counter(t for item in nlu for t in item["tags"])
    acts = Counter(item["act"] for item in nlu)
    plain = sum(not item["diacritics"] for item in nlu)
    assert 0.35 * n <= plain <= 0.65 * n, f"{plain} of {n} without diacritics"
    assert reg["formal"] >= 0.30 * n and reg["chat"] + reg["teencode"] >= 0.30 * n
    assert tags["long_story"] >= 40
    assert tags["followup"] >= 30
    assert tags["relay"] >= 20
    assert acts["out_of_scope"] >= 40
    assert sum(i["act"] == "check_status" and "code_typed" in i["tags"] for i in nlu) >= 25
    assert sum(acts[a] for a in FLOW_ACTS) >= 30
    after = {"check_status": 0, "rate": 0, "request_human": 0}
    for item in nlu:
        joined = " ".join(item["context"]).lower()
        if re.search(r"\d{3}\.\d{2}\.\d{2}\.h\d{2}", joined):
            after["check_status"] += 1
        if "sao" in joined and re.search(r"\d sao", joined):
            after["rate"] += 1
        if re.search(r"cán bộ|can bo|người thật|nguoi that|nhân viên", joined):
            after["request_human"] += 1
    assert all(v >= 3 for v in after.values()), after
    # Questions that look like acts ("tôi muốn biết…", "khiếu nại…", "nộp online…") stay questions.
    lookalikes = [i for i in nlu if i["act"] == "ask" and re.search(
        r"tôi muốn|toi muon|khiếu nại|khieu nai|nộp online|gặp cán bộ|phản ánh|nói chuyện", i["text"].lower())]
    assert len(lookalikes) >= 15, len(lookalikes)


def test_nlu_b_mix_as_promised(nlu_b: list[dict[str, Any]], catalog_fields: dict[str, str]) -> None:
    """The fresh test set keeps the mix its author was asked for (issue #11): half portal-style, half chat;
    half without diacritics; follow-ups, two-question messages, rule questions and typed codes by the dozen;
    every act the assistant knows, not only questions; a third of the questions on less asked procedures."""
    n = len(nlu_b)
    assert n >= 330, n
    reg = Counter(item["register"] for item in nlu_b)
    tags = Counter(t for item in nlu_b for t in item["tags"])
    acts = Counter(item["act"] for item in nlu_b)
    plain = sum(not item["diacritics"] for item in nlu_b)
    assert 0.40 * n <= plain <= 0.60 * n, f"{plain} of {n} without diacritics"
    assert 0.40 * n <= reg["formal"] <= 0.60 * n, f"{reg['formal']} of {n} portal-style"
    assert tags["two_questions"] >= 30 and tags["followup"] >= 30 and tags["rule_question"] >= 30, tags
    assert acts["out_of_scope"] >= 35, acts
    for act in ("submit_online", "complain", "request_human", "rate", "greet", "thank", "goodbye", "portal_help",
                "delete_data"):
        assert acts[act] >= 2, f"{act}: {acts[act]}"
    asks = [item for item in nlu_b if item["act"] == "ask"]
    assert all(item["procedures"] for item in asks), "every question names its acceptable procedures"
    assert acts["ask"] <= 0.80 * n, "acts are not all questions"
    other = [i for i in asks if all(catalog_fields[c] not in COMMON_FIELDS for c in i["procedures"])]
    assert 0.20 * len(asks) <= len(other) <= 0.45 * len(asks), f"{len(other)} of {len(asks)} on other fields"
    assert len({c for item in other for c in item["procedures"]}) >= 25
    # "có làm online được không" asks (aspect online); "hướng dẫn tôi nộp online" is submit_online
    assert sum("online" in i["aspects"] for i in asks) >= 8 and acts["submit_online"] >= 8
