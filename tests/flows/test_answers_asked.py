"""Answers to what a person asks about one part: who may apply, a yes/no about conditions, the steps, two parts at once.

Every expectation is read from the catalog record (and the response book's own wording): a yes/no
question leads with the record's line that decides it, or says plainly that the record has none.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from flows.actions.answers.asked import is_yes_no, plain_agency, record_sentences, who_sentences, words
from flows.actions.answers.compose import SCREEN_CHARS
from flows.actions.answers.sections import step_parts
from flows.responses import intent_payload
from knowledge import fold
from nlu.result import ParseResult, ProcedureMatch, parse_payload

NOW = datetime(2026, 12, 5, 2, 0)
HEADS = {"who": "👤", "conditions": "✅", "steps": "🧭", "fee": "💰", "time": "⏱️", "where": "🏢", "documents": "📄",
         "forms": "📝", "result": "📜", "postal": "📮", "online": "💻", "legal": "⚖️"}


def asked(engine, services, code: str, aspects: list[str], text: str):
    parse = ParseResult(text=text, intent="ask_procedure", confidence=0.9, procedures=[ProcedureMatch(code, "", 1.0)],
                        aspects=aspects)
    result = engine.handle(None, parse, services, NOW)
    return result.replies[0]


def pressed(engine, services, code: str, aspect: str):
    return engine.handle(None, parse_payload(intent_payload("ask_procedure", {"procedure": code, "aspect": aspect})),
                         services, NOW).replies[0]


def body(reply, aspect: str) -> list[str]:
    """The lines of one aspect's block (after its head, up to the blank line)."""
    block = next(b for b in reply.text.split("\n\n") if b.startswith(HEADS[aspect]))
    return block.splitlines()[1:]


def flat(text: str) -> str:
    return " ".join(text.split())


def own_words(sentence: str, others: list[str], name: str) -> list[str]:
    """Words of `sentence` that no other candidate line, the procedure's name or the ignored words have."""
    taken = {w for o in others for w in re.findall(r"\w+", fold(o))} | set(re.findall(r"\w+", fold(name)))
    taken |= set(words()["ignore"])
    return [w for w in sentence.split() if re.fullmatch(r"\w+", w) and fold(w) not in taken and len(w) > 2]


def guided_with_who(knowledge):
    """(procedure, a line of the record on who, four adjacent words of it with three of its own)."""
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        lines = who_sentences(procedure)
        conditions = [c.strip().lstrip("-+• ").strip() for c in procedure.conditions if c.strip()]
        for line in lines:
            mine = set(own_words(line, [x for x in lines + conditions if x != line], procedure.name))
            run = line.split()
            for start in range(len(run) - 3):
                if sum(w in mine for w in run[start:start + 4]) >= 3:
                    yield procedure, line, [w.strip(",.;:()") for w in run[start:start + 4]]
                    break


@pytest.mark.parametrize("aspect", ["who", "conditions"])
def test_a_yes_no_about_who_or_conditions_leads_with_the_records_line_that_decides_it(engine, services, knowledge, aspect):
    checked = 0
    for procedure, line, mine in guided_with_who(knowledge):
        reply = asked(engine, services, procedure.code, [aspect], f"{' '.join(mine)} có được không")
        first = body(reply, aspect)[0]
        assert not first.startswith("•") and ": " in first, (procedure.code, first, line)
        quoted = first.split(": ", 1)[1].strip("«»… ")
        assert quoted in flat(line), (procedure.code, first, line)
        assert len(reply.text) <= SCREEN_CHARS
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("aspect", ["who", "conditions"])
def test_a_yes_no_the_record_does_not_decide_says_so_and_where_to_ask(engine, services, knowledge, aspect):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        reply = asked(engine, services, procedure.code, [aspect], "nuôi mèo cảnh trong nhà có được không")
        first = body(reply, aspect)[0]
        office = engine.responses.text("answer_not_stated", office="\0").split("\0")
        assert first.startswith(office[0]) and first.endswith(office[1]), (procedure.code, first)
        asked_office = first[len(office[0]):len(first) - len(office[1])].rstrip(" …")
        agency = procedure.agencies.implementing
        assert asked_office and (asked_office in plain_agency(agency) or fold(agency) == "khong co thong tin"), asked_office
        # Nothing invented: every figure on the screen is the record's (or the catalog date's).
        record = flat(procedure.json())
        assert all(n in record for n in re.findall(r"\d+", "\n".join(body(reply, aspect))))


def test_who_names_the_people_the_record_names_not_only_the_audience(engine, services, knowledge):
    shown = 0
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        lines = body(pressed(engine, services, procedure.code, "who"), "who")
        people = who_sentences(procedure)
        if people:
            first = lines[0].lstrip("• ").rstrip(" …")
            assert any(first in flat(p) for p in people), (procedure.code, lines[0])
            shown += 1
        audience = ", ".join(a.strip() for a in procedure.audience)
        assert lines[-1].split(": ", 1)[1].rstrip(" …") in audience, (procedure.code, lines[-1])
    assert shown >= 10


def test_conditions_the_record_lacks_take_a_few_lines_and_offer_the_parts_that_answer(engine, services, knowledge):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        if procedure.conditions:
            continue
        reply = pressed(engine, services, procedure.code, "conditions")
        lines = body(reply, "conditions")
        assert len(lines) <= 3 and len(lines[0]) <= 60, lines
        offered = {parse_payload(b.payload).entities.get("aspect") for b in reply.buttons}
        assert {"documents", "who"} <= offered


@pytest.mark.parametrize("text", ["ủy quyền cho người khác được không", "ong ba di lam thay dc ko",
                                  "có phải cả hai người đến không", "con tôi 15 tuổi đã đủ tuổi làm chưa"])
def test_yes_no_questions_are_told_from_open_ones(text):
    assert is_yes_no(text)


@pytest.mark.parametrize("text", ["cần những điều kiện gì", "ai được làm thủ tục này", "các bước làm như thế nào"])
def test_open_questions_are_not_yes_no(text):
    assert not is_yes_no(text)


def test_steps_are_numbered_short_and_from_the_record(engine, services, knowledge):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        reply = pressed(engine, services, procedure.code, "steps")
        lines = [x for x in body(reply, "steps") if re.match(r"\d+\. ", x)]
        assert [int(x.split(".")[0]) for x in lines] == list(range(1, len(lines) + 1)), lines
        record = flat(" ".join(procedure.steps)).lower()
        parts = step_parts(procedure.steps)
        assert len(lines) >= min(2, len(parts))
        for line in lines:
            step = line.split(". ", 1)[1].rstrip(" …")
            assert len(step) <= 100
            # Its words are the record's (a short step leaves words out, it adds none of its own but a lead).
            tail = step.split(": ", 1)[-1] if step.startswith("Nộp trực") else step
            assert " ".join(tail.split()[:3]).lower().strip(".,:") in record, (procedure.code, line)
        assert len(reply.text) <= SCREEN_CHARS


PAIRS = [("where", "fee"), ("fee", "time"), ("documents", "fee"), ("steps", "forms"), ("who", "conditions"),
         ("time", "result")]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_two_parts_asked_at_once_share_one_screen_the_first_asked_first(engine, services, knowledge, first, second):
    import random

    codes = [g.code for g in knowledge.guides] + [p.code for p in random.Random(5).sample(knowledge.procedures, 30)]
    for code in codes:
        reply = asked(engine, services, code, [first, second], "hỏi hai phần")
        text = reply.text
        assert len(text) <= SCREEN_CHARS, (code, first, second, len(text))
        assert 0 < text.index(HEADS[first]) < text.index(HEADS[second]), (code, text)
        assert body(reply, first) and body(reply, second)


def test_record_sentences_keep_whole_sentences():
    lines = ["- Cha hoặc mẹ có trách nhiệm đăng ký khai sinh cho con. Người thân thích khác cũng có thể đi đăng ký."]
    assert record_sentences(lines) == ["Cha hoặc mẹ có trách nhiệm đăng ký khai sinh cho con.",
                                       "Người thân thích khác cũng có thể đi đăng ký."]


def test_free_beside_a_priced_note_says_both_never_free_alone(engine, services, knowledge):
    from knowledge import fee_on

    priced = [p for p in knowledge.procedures if any(
        c.fee.kind == "free" and c.fee.note_mentions_amount and fee_on(c.fee, NOW.date(), c.kind).until is None
        and re.search(r"\d{1,3}(?:\.\d{3})+\s*(?:đồng|đ)", c.fee.text) for c in p.channels)][:20]
    assert priced
    free = engine.responses.text("fee_free")
    for procedure in priced:
        lines = body(pressed(engine, services, procedure.code, "fee"), "fee")
        assert not any(x.startswith(f"• {free}") for x in lines), (procedure.code, lines)
        notes = flat(" ".join(c.fee.text for c in procedure.channels))
        more = engine.responses.text("procedure_info_more_lines", count=0)
        assert any(x.startswith("↳ ") and x[2:] in notes for x in lines) or more in lines, (procedure.code, lines)


def test_forms_are_named_shortly_with_their_code_and_the_records_file(engine, services, knowledge):
    from flows.actions.answers.sections import form_documents
    from knowledge import form_codes

    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        found, _ = form_documents(procedure, guide)
        if not found:
            continue
        lines = [x for x in body(pressed(engine, services, procedure.code, "forms"), "forms") if x.startswith("• ")]
        first, document = lines[0], found[0]
        codes = form_codes(f"{document.name} {document.template or ''}")
        assert not codes or codes[0] in first, (procedure.code, first)
        assert not document.template or document.template[:20] in first, (procedure.code, first)
        assert len(first) <= 260 and "Thông tư" not in first and "Nghị định" not in first, first


def test_where_names_the_office_as_people_know_it(engine, services, knowledge):
    from flows.actions.answers.asked import plain_agency

    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        agency = procedure.agencies.implementing
        if not agency or fold(agency) == "khong co thong tin":
            continue
        lines = body(pressed(engine, services, procedure.code, "where"), "where")
        assert plain_agency(agency)[:40] in lines[0], (procedure.code, lines[0])
    assert plain_agency("Công an cấp Xã") != "Công an cấp Xã"


def test_nothing_is_cut_without_a_button_to_the_rest(engine, services, knowledge):
    """A first answer that shortens a line ("…") always offers the whole ("Xem đầy đủ", "Tiếp")."""
    import random

    from flows.actions.procedure_info import ASPECTS

    procedures = [knowledge.get(g.code) for g in knowledge.guides] + random.Random(11).sample(knowledge.procedures, 60)
    for procedure in procedures:
        for aspect in ASPECTS:
            reply = pressed(engine, services, procedure.code, aspect)
            shown = reply.text.rsplit("\n\nNguồn:", 1)[0].split("\n", 1)[-1]  # without the header and the source
            shown = re.sub(r"«…[^»]*…»", "", shown)  # a quoted clause of the record, not a cut
            if "…" in shown:
                assert any('"part"' in b.payload for b in reply.buttons), (procedure.code, aspect, shown)


def test_no_postal_way_names_only_the_ways_the_record_has(engine, services, knowledge):
    channel = {k: engine.responses.text(f"channel_{k}").lower() for k in ("online", "in_person", "postal")}
    checked = 0
    for procedure in knowledge.procedures:
        kinds = {c.kind for c in procedure.channels}
        if "postal" in kinds or not kinds or checked >= 30:
            continue
        line = body(pressed(engine, services, procedure.code, "postal"), "postal")[0]
        for kind in ("online", "in_person"):
            assert (channel[kind] in line.split(":", 1)[-1].split(";")[-1]) == (kind in kinds), (procedure.code, line)
        checked += 1
    assert checked == 30
