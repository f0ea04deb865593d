"""Answers about a procedure, as a person reads them: one screen, their case first, today's fee, steps and forms.

Facts are read from the catalog record in each test (never written into it): the answer must say
what the record says, for the day the engine's clock is on.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime

import pytest

from flows.actions.answers.compose import SCREEN_CHARS, pack
from flows.actions.procedure_info import ASPECTS
from flows.responses import intent_payload
from knowledge import (
    display_name,
    distinct_names,
    document_key,
    fee_on,
    find_document,
    fold,
    format_amount,
    load_knowledge,
    select_documents,
)
from nlu.result import ParseResult, ProcedureMatch, parse_payload

# 09:00 in Hà Nội on 5 December 2026.
NOW = datetime(2026, 12, 5, 2, 0)
TODAY = date(2026, 12, 5)
RE_ISSUE_ID_CARD = "1.014064"
PASSPORT = "1.001456"
BIRTH = "1.001193"
MARRIAGE = "1.000894"
RESIDENCE = "1.004222"


def ask(engine, services, code: str, aspect: str, now: datetime = NOW, **extra: str):
    """What pressing an aspect button of `code` answers (one reply: text, buttons, source link)."""
    payload = intent_payload("ask_procedure", {"procedure": code, "aspect": aspect, **extra})
    result = engine.handle(None, parse_payload(payload), services, now)
    assert len(result.replies) == 1, [r.text for r in result.replies]
    return result.replies[0]


def say(engine, services, parse: ParseResult, state=None, now: datetime = NOW):
    result = engine.handle(state, parse, services, now)
    return result, json.loads(json.dumps(result.state))


# -- one screen ----------------------------------------------------------------------


def test_every_first_answer_of_every_guided_procedure_fits_one_screen_and_cites_its_record(engine, services, knowledge):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        for aspect in ASPECTS:
            reply = ask(engine, services, guide.code, aspect)
            assert len(reply.text) <= SCREEN_CHARS, (guide.slug, aspect, len(reply.text), reply.text)
            assert procedure.code in reply.text and reply.links[0].url == procedure.source_url
            assert reply.text.startswith(guide.title)
            assert not any(f'"aspect":"{aspect}"' in b.payload and '"part"' not in b.payload for b in reply.buttons)


def test_first_answers_of_catalog_procedures_fit_one_screen(engine, services, knowledge):
    sample = random.Random(7).sample(knowledge.procedures, 150)
    for procedure in sample:
        for aspect in ("documents", "fee", "time", "steps", "forms", "where", "conditions"):
            reply = ask(engine, services, procedure.code, aspect)
            assert len(reply.text) <= SCREEN_CHARS, (procedure.code, aspect, len(reply.text))


def test_paging_the_full_record_shows_every_document_row_and_never_cuts_silently(engine, services, knowledge):
    procedure = knowledge.get(BIRTH)
    shown, page = "", 1
    while True:
        reply = ask(engine, services, BIRTH, "documents", part="all", **({"page": str(page)} if page > 1 else {}))
        assert len(reply.text) <= SCREEN_CHARS
        shown += reply.text
        following = [b for b in reply.buttons if b.title.startswith("Tiếp")]
        if not following:
            break
        assert "còn tiếp" in reply.text
        page += 1
    flat = " ".join(shown.split())
    for document in procedure.documents:
        words = " ".join(document.name.lstrip("-+• ").split()[:6])
        assert words in flat, words


@pytest.mark.parametrize("budget", [120, 300, 700])
def test_pack_keeps_every_sentence_and_every_page_within_budget(budget):
    lines = ["• " + " ".join(f"câu {i}.{j}." for j in range(i % 40)) for i in range(60)]
    pages = pack(lines, budget)
    assert all(len("\n".join(p)) <= budget for p in pages)
    assert " ".join(" ".join(p) for p in pages).split() == " ".join(lines).split()


def test_a_case_heading_starts_the_page_its_items_run_on_to():
    lines = ["▸ Trường hợp thuê nhà:", *(f"• giấy tờ số {i} cho người thuê nhà" for i in range(12))]
    pages = pack(lines, 120)
    assert len(pages) > 1 and all(p[0] == "▸ Trường hợp thuê nhà:" for p in pages)


# -- documents: the common case first, the guide's selection, the same in the walkthrough ------


@pytest.mark.parametrize("slug", [g.slug for g in load_knowledge().guides])
def test_a_guided_documents_answer_is_the_guides_core_documents_with_the_records_copies(engine, services, knowledge, slug):
    guide = knowledge.guide_by_slug(slug)
    procedure = knowledge.get(guide.code)
    reply = ask(engine, services, guide.code, "documents")
    lines = reply.text.splitlines()
    for number, item in enumerate(guide.documents_to_prepare, 1):
        document = find_document(procedure, item.document)
        assert document is not None, f"{slug}: {item.document} is not a row of {procedure.code}"
        line = next(x for x in lines if x.startswith(f"{number}. "))
        assert item.item[:40] in line
        if "xuất trình" in (document.group or "").lower() and document.quantity:
            assert "xuất trình" in line
        for quantity in document.quantity if "xuất trình" not in (document.group or "").lower() else ():
            assert f"{quantity.count} bản {'chính' if quantity.kind == 'ban_chinh' else 'sao'}" in line
    special = select_documents(procedure, guide).special_count
    assert any(b.title == f"Trường hợp riêng ({special})" for b in reply.buttons) == bool(special)


@pytest.mark.parametrize("slug", [g.slug for g in load_knowledge().guides])
def test_a_guided_fee_answer_says_todays_fee_from_the_record(engine, services, knowledge, slug):
    guide = knowledge.guide_by_slug(slug)
    procedure = knowledge.get(guide.code)
    text = ask(engine, services, guide.code, "fee").text
    assert "05/12/2026" in text
    for channel in procedure.channels:
        today = fee_on(channel.fee, TODAY, channel.kind)
        for amount in today.amounts if today.kind == "amount" else ():
            assert format_amount(amount) in text, (slug, channel.kind, format_amount(amount))
        if today.until:
            assert today.until.strftime("%d/%m/%Y") in text
        if today.kind == "free":
            assert "Miễn phí" in text


def test_special_cases_are_grouped_by_their_case_and_the_common_case_opens_the_residence_answer(engine, services, knowledge):
    first = ask(engine, services, RESIDENCE, "documents").text
    assert "CT01" in first.split("\n1. ")[1].splitlines()[0]
    assert "tín ngưỡng" not in first and "Quân đội" not in first
    cases = ask(engine, services, RESIDENCE, "documents", part="cases").text
    assert "▸ " in cases


def test_an_unguided_record_puts_general_rows_first_and_conditional_rows_behind_a_button(knowledge):
    procedure = next(p for p in knowledge.procedures if knowledge.guide(p.code) is None and any(
        d.name.lstrip("-+ ").startswith("Trường hợp") and d.quantity for d in p.documents))
    selection = select_documents(procedure, None)
    assert selection.cases
    assert not any(c.text.startswith(("Trường hợp", "Nếu", "Đối với")) for c in selection.core)


def test_document_keys_are_stable_and_found_again():
    assert document_key("- Tờ khai đăng ký khai sinh theo mẫu (nếu …);") == "to-khai-dang-ky-khai-sinh-theo-mau"
    assert document_key("+ Giấy chứng sinh") == "giay-chung-sinh"


# -- fees in force today ---------------------------------------------------------------


def test_a_dated_fee_clause_switches_on_the_day_it_ends(engine, services, knowledge):
    procedure = knowledge.get(RE_ISSUE_ID_CARD)
    base = next(c.fee for c in procedure.channels if c.fee.amounts).amounts[0].value
    half, full = format_amount(fee_on_amount(base / 2)), format_amount(fee_on_amount(base))
    before = ask(engine, services, RE_ISSUE_ID_CARD, "fee", now=datetime(2026, 12, 31, 10, 0)).text
    after = ask(engine, services, RE_ISSUE_ID_CARD, "fee", now=datetime(2027, 1, 1, 10, 0)).text
    assert half in before and "31/12/2026" in before and f"sau đó {full}" in before
    assert full in after and half not in after and "31/12/2026" not in after


def fee_on_amount(value: float):
    from knowledge import Amount

    return Amount(value)


def test_an_expired_fee_is_never_shown_as_current(engine, services, knowledge):
    procedure = knowledge.get(PASSPORT)
    online = procedure.channel("online")
    assert "31/12/2023" in online.fee.text
    text = ask(engine, services, PASSPORT, "fee").text
    line = next(x for x in text.splitlines() if x.startswith("• Trực tuyến"))
    assert "chỉ áp dụng đến hết 31/12/2023" in line and "chưa ghi mức hiện nay" in line


def test_taxes_places_and_units_are_said_plainly(engine, services, knowledge):
    land = knowledge.guide_by_slug("sang-ten-so-do").code
    assert "thuế" in ask(engine, services, land, "fee").text
    copy = knowledge.guide_by_slug("chung-thuc-ban-sao").code
    assert "cơ quan đại diện Việt Nam ở nước ngoài" in ask(engine, services, copy, "fee").text
    time = ask(engine, services, RE_ISSUE_ID_CARD, "time").text
    assert time.count("Ngày làm việc:") == 1
    no_unit = ask(engine, services, MARRIAGE, "time").text
    assert "không rõ đơn vị" in no_unit and "không ghi là ngày hay ngày làm việc" in no_unit


@pytest.mark.parametrize(
    ("note", "day", "kind", "amounts", "until"),
    [
        ("Kể từ ngày 01/7/2025 đến hết ngày 31/12/2026 mức thu bằng 50% mức thu nêu trên.", date(2026, 1, 1),
         "amount", ["35.000 đ"], date(2026, 12, 31)),
        ("Kể từ ngày 01/7/2025 đến hết ngày 31/12/2026 mức thu bằng 50% mức thu nêu trên.", date(2027, 1, 1),
         "amount", ["70.000 đ"], None),
        ("70.000đ/thẻ (áp dụng đến hết ngày 31/12/2023 theo Thông tư số 44/2023/TT-BTC).", date(2026, 1, 1),
         "expired", ["70.000 đ"], None),
        ("(Miễn kể từ ngày 07/4/2026 đến 30/6/2026 theo Thông tư 40/2026/TT-BTC)", date(2026, 5, 1),
         "free", [], date(2026, 6, 30)),
        ("(Miễn kể từ ngày 07/4/2026 đến 30/6/2026 theo Thông tư 40/2026/TT-BTC)", date(2026, 7, 1),
         "amount", ["70.000 đ"], None),
        ("áp dụng mức phí 40.000 đồng/hồ sơ kể từ ngày 01/7/2025 đến hết ngày 31/12/2026", date(2026, 3, 3),
         "amount", ["40.000 đ"], date(2026, 12, 31)),
        ("Thiết bị 70.000đ/lần (Miễn kể từ ngày 07/4/2026 đến 30/6/2026 theo Thông tư 40/2026/TT-BTC)",
         date(2026, 7, 1), "amount", ["70.000 đ"], None),
        ("70.000đ/thẻ (áp dụng đến hết ngày 31/12/2026 theo Thông tư số 64/2025/TT-BTC)", date(2026, 3, 3),
         "amount", ["70.000 đ"], date(2026, 12, 31)),
        ("", date(2026, 3, 3), "amount", ["70.000 đ"], None),
    ],
)
def test_fee_on_reads_dated_clauses(note, day, kind, amounts, until):
    from knowledge.schema import Fee, Money

    fee = Fee(kind="amount", amounts=[Money(value=70000, currency="VND", text="70,000 Việt Nam Đồng")], text=note)
    today = fee_on(fee, day)
    assert (today.kind, [format_amount(a) for a in today.amounts], today.until) == (kind, amounts, until)


def test_what_an_amount_is_for_stays_when_its_dated_bracket_has_ended():
    from knowledge.schema import Fee, Money

    note = "- Sát hạch thực hành (Miễn kể từ ngày 07/4/2026 đến 30/6/2026 theo Thông tư 40/2026/TT-BTC)"
    fee = Fee(kind="amount", amounts=[Money(value=250000, currency="VND", text="250,000 VNĐ")], text=note)
    assert fee_on(fee, date(2026, 12, 5)).sentences == ("Sát hạch thực hành",)
    assert fee_on(fee, date(2026, 5, 1)).kind == "free"


def test_amounts_are_written_as_vietnamese_people_write_them():
    from knowledge import Amount

    assert format_amount(Amount(35000)) == "35.000 đ"
    assert format_amount(Amount(1250000, per="/hồ sơ")) == "1.250.000 đ/hồ sơ"
    assert format_amount(Amount(10, "USD", "/bản")) == "10 USD/bản"


# -- new answers: steps, forms, who, conditions, two aspects --------------------------------


def test_steps_are_short_numbered_steps_from_the_record(engine, services, knowledge):
    text = ask(engine, services, PASSPORT, "steps").text
    assert "1. " in text and "2. " in text
    assert "Chuẩn bị hồ sơ" in text


def test_a_form_code_typed_finds_the_form_and_where_to_download_it(engine, services, knowledge):
    for typed in ("tải mẫu CT01 ở đâu", "mau ct01", "cho xin mẫu tk1-ts"):
        result, _ = say(engine, services, ParseResult(text=typed, intent="ask_documents", confidence=0.9))
        text = result.replies[0].text
        code = typed.split()[-1] if "ts" in typed else "CT01"
        assert code.upper() in text and "Tải mẫu" in text, text
        assert result.replies[0].links


def test_who_may_apply_is_the_records_audience(engine, services, knowledge):
    text = ask(engine, services, BIRTH, "who").text
    for audience in knowledge.get(BIRTH).audience:
        assert audience in text


def test_a_yes_no_condition_question_leads_with_the_deciding_condition(engine, services, knowledge):
    def distinct(procedure, condition):  # words no other condition of the record has
        others = {w for c in procedure.conditions if c is not condition for w in fold(c).split()}
        return [w for w in condition.split() if fold(w) not in others and len(w) > 2]

    procedure, deciding = next((p, c) for p in knowledge.procedures if len(p.conditions) >= 3
                               for c in p.conditions[1:] if len(distinct(p, c)) >= 3)
    question = "có được làm không nếu " + " ".join(distinct(procedure, deciding)[:4])
    parse = ParseResult(text=question, intent="ask_conditions", confidence=0.9,
                        procedures=[ProcedureMatch(procedure.code, procedure.name, 1.0)])
    result, _ = say(engine, services, parse)
    first = result.replies[0].text.split("✅ Điều kiện:\n", 1)[1].splitlines()[0]
    quoted = first.split(": ", 1)[1].strip("«»… ")
    assert not first.startswith("•") and quoted in " ".join(deciding.split()), (first, deciding)
    general = ParseResult(text="thủ tục này cần những điều kiện gì", intent="ask_conditions", confidence=0.9,
                          procedures=[ProcedureMatch(procedure.code, procedure.name, 1.0)])
    body = say(engine, services, general)[0].replies[0].text.split("✅ Điều kiện:\n", 1)[1]
    assert body.startswith("• ")


def test_two_aspects_in_one_message_are_answered_together(engine, services, knowledge):
    parse = ParseResult(text="kết hôn nộp ở đâu, bao nhiêu tiền", intent="ask_where", confidence=0.9,
                        procedures=[ProcedureMatch(MARRIAGE, "", 1.0)], aspects=["where", "fee"])
    result, state = say(engine, services, parse)
    text = result.replies[0].text
    assert "🏢 Nơi nộp hồ sơ" in text and "💰 Lệ phí" in text and len(text) <= SCREEN_CHARS
    assert state["slots"]["procedure_aspect"] == "where,fee"


def test_without_nlu_aspects_a_second_ask_intent_of_the_classifier_is_answered_too(engine, services):
    parse = ParseResult(text="kết hôn nộp ở đâu, bao nhiêu tiền", intent="ask_fee", confidence=0.88,
                        ranking=[("ask_fee", 0.88), ("ask_where", 0.11), ("out_of_scope", 0.01)],
                        procedures=[ProcedureMatch(MARRIAGE, "", 1.0)])
    result, state = say(engine, services, parse)
    assert state["slots"]["procedure_aspect"] == "fee,where"
    single = ParseResult(text="kết hôn bao nhiêu tiền", intent="ask_fee", confidence=0.99,
                         ranking=[("ask_fee", 0.99), ("ask_where", 0.01)], procedures=[ProcedureMatch(MARRIAGE, "", 1.0)])
    assert say(engine, services, single)[1]["slots"]["procedure_aspect"] == "fee"


def test_the_aspect_buttons_offer_the_new_answers(engine, services):
    reply = ask(engine, services, BIRTH, "documents")
    pressed = [parse_payload(b.payload) for b in reply.buttons]
    offered = {p.entities["aspect"] for p in pressed if p.intent == "ask_procedure" and "part" not in p.entities}
    assert {"steps", "forms", "who", "fee", "time"} <= offered


# -- names and clarification ------------------------------------------------------------


def test_display_names_are_short_and_guided_ones_are_the_guide_title(knowledge):
    for procedure in knowledge.procedures:
        guide = knowledge.guide(procedure.code)
        name = display_name(procedure, guide)
        assert len(name) <= 60, (procedure.code, name)
        assert guide is None or name == guide.title


def test_clarification_keeps_the_asked_aspect_and_says_how_look_alikes_differ(engine, services, knowledge):
    # The commune and the province record of the same procedure.
    look_alikes = [knowledge.get(c) for c in (RE_ISSUE_ID_CARD, "2.001194")]
    parse = ParseResult(text="làm lại căn cước mất mấy ngày", intent="ask_processing_time", confidence=0.9,
                        procedures=[ProcedureMatch(p.code, p.name, 0.5) for p in look_alikes])
    result, state = say(engine, services, parse)
    reply = result.replies[0]
    titles = [b.title for b in reply.buttons]
    assert len(set(titles)) == len(titles) == 2 and all(len(t) <= 60 for t in titles)
    assert "thời gian" in reply.text and "cấp xã" in reply.text and "cấp tỉnh" in reply.text
    answer, _ = say(engine, services, parse_payload(reply.buttons[1].payload), state)
    assert "⏱️ Thời gian giải quyết" in answer.replies[0].text


def test_distinct_names_tell_same_named_records_apart(knowledge):
    twins = [knowledge.get(c) for c in ("1.014064", "2.001194")]
    names = distinct_names(twins, [knowledge.guide(p.code) for p in twins])
    assert len(set(names)) == 2 and all(len(n) <= 60 for n in names)


def test_fee_notes_are_quoted_whole_never_cut(engine, services, knowledge):
    procedures = [knowledge.get(g.code) for g in knowledge.guides]
    procedures += [p for p in knowledge.procedures if any(len(c.fee.text) > 300 for c in p.channels)][:60]
    for procedure in procedures:
        text = ask(engine, services, procedure.code, "fee").text
        notes = " ".join(" ".join(c.fee.text.split()) for c in procedure.channels)
        for line in text.splitlines():
            if line.startswith("↳ ") and not line.startswith("↳ Cổng DVC còn"):
                assert line[2:] in notes and not line.endswith("…"), (procedure.code, line)


def test_choice_buttons_are_short_and_unique_with_or_without_the_knowledge(knowledge):
    from flows.actions.procedure_info import choice_buttons

    twins = [knowledge.get(c) for c in (RE_ISSUE_ID_CARD, "2.001194", "1.000757")]
    hits = [ProcedureMatch(p.code, "Cấp lại thẻ căn cước " + "rất dài " * 20, 0.5) for p in twins]
    for buttons in (choice_buttons(hits, "ask_documents"), choice_buttons(hits, "ask_documents", knowledge)):
        titles = [b.title for b in buttons]
        assert len(set(titles)) == 3 and all(len(t) <= 60 for t in titles), titles


def test_a_free_window_that_has_ended_is_never_said_as_free():
    from knowledge.schema import Fee

    note = ("5.000.000 đồng/lần cấp (Đối với sân bay chuyên dùng) phí: 40.000.000 đồng/lần cấp (Đối với cảng hàng "
            "không quốc tế) Miễnphí từ ngày 07/4/2026 đến 30/6/2026 theo quy định tại Thông tư 40/2026/TT-BTC")
    fee = Fee(kind="free", amounts=[], text=note, note_mentions_amount=True)
    during, after = fee_on(fee, date(2026, 5, 1)), fee_on(fee, date(2026, 12, 5))
    assert during.kind == "free" and during.until == date(2026, 6, 30)
    assert after.kind == "noted" and after.expired_on == date(2026, 6, 30)
    assert any("5.000.000 đồng" in s for s in after.sentences)
