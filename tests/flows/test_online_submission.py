"""The online_submission and portal_help actions: reading typed answers, choosing paths, building
walkthroughs from guides and records, and the engine support they rely on (prompt extras, typed
resume, state that survives the store). Real flows, real responses, real knowledge; the NLU model
only where a test goes through the Assistant."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from flows.actions.online_submission import (
    ITEM_CHARS,
    STUCK_TOPICS,
    available_modes,
    read_command,
    record_checklist,
    record_parts,
    short,
    walkthrough,
    word_lists,
)
from flows.actions.portal_help import TOPICS, topic_of
from flows.engine import ActionContext, State
from knowledge import select_documents
from nlu.result import ParseResult, parse_payload

NOW = datetime(2026, 11, 22, 9, 0)


def context(engine, services, slots: dict[str, Any] | None = None, frame_vars: dict[str, Any] | None = None,
            text: str = "") -> ActionContext:
    state = State(slots=dict(slots or {}))
    return ActionContext(engine, state, {"vars": dict(frame_vars or {})}, ParseResult(text=text), services)


class Chat:
    """Runs messages through the engine as the Assistant would (state stored as JSON between turns)."""

    def __init__(self, engine, services):
        self.engine, self.services, self.state, self.last = engine, services, None, None

    def send(self, text: str, intent: str | None = None, confidence: float = 0.0):
        parse = parse_payload(text) or ParseResult(text=text, intent=intent, confidence=confidence)
        self.last = self.engine.handle(self.state, parse, self.services, NOW)
        self.state = json.loads(json.dumps(self.last.state))
        return self.last

    def press(self, title_part: str):
        button = next(b for r in self.last.replies for b in r.buttons if title_part in b.title)
        return self.send(button.payload)

    @property
    def said(self) -> str:
        return "\n".join(r.text for r in self.last.replies)


# -- typed answers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def vocabulary(engine, services):
    from flows.actions.online_submission import COMMAND_WORDS

    return word_lists(context(engine, services), "online_submission_words_", COMMAND_WORDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("xong", {"do": "next"}),
        ("Xong rồi ạ", {"do": "next"}),
        ("XONG ROI", {"do": "next"}),
        ("✅ Xong, tiếp", {"do": "next"}),
        ("quay lại", {"do": "back"}),
        ("quay lai buoc truoc", {"do": "back"}),
        ("Tôi bị kẹt ở bước này", {"do": "stuck"}),
        ("toi bi ket o buoc nay", {"do": "stuck"}),
        ("không được", {"do": "stuck"}),
        ("chưa xong", {"do": "stuck"}),  # "xong" inside a longer phrase that means the opposite
        ("tiếp tục", {"do": "continue"}),
        ("dừng lại", {"do": "stop"}),
        ("2", {"do": "tick", "items": [2]}),
        ("đã có 1 và 3", {"do": "tick", "items": [1, 3]}),
        # Questions that merely contain a command word are questions, not commands.
        ("lệ phí bao nhiêu rồi", None),
        ("xong rồi thì nộp ở đâu", None),
        ("không nhận được mã otp", None),
        ("2 bản sao hay bản chính", None),
        ("", None),
        ("ạ", None),
        ("🙂", None),
    ],
)
def test_typed_answers_are_read_only_when_they_are_wholly_a_command(vocabulary, text, expected):
    assert read_command(text, vocabulary) == expected


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("không nhận được mã OTP", "otp"),
        ("khong nhan duoc ma xac thuc", "otp"),
        ("quên mật khẩu vneid", "account"),
        ("tài khoản định danh mức 2 là gì", "vneid"),
        ("không đăng nhập được dịch vụ công", "login"),
        ("thanh toan bi tru tien", "payment"),
        ("chụp ảnh giấy tờ thế nào", "scan"),
        ("cổng dịch vụ công bị lỗi", None),
    ],
)
def test_portal_problem_is_read_from_its_words(engine, services, text, topic):
    assert topic_of(context(engine, services), text) == topic


# -- paths -------------------------------------------------------------------------


def test_paths_offered_are_those_the_record_offers_and_the_guide_describes(knowledge):
    for procedure in knowledge.procedures:
        guide = knowledge.guide(procedure.code)
        modes = available_modes(procedure, guide)
        online = procedure.channel("online") is not None
        postal = procedure.channel("postal") is not None
        assert ("postal" in modes) == (postal and (guide is None or bool(guide.steps_for("postal")))), procedure.code
        assert not ({"full", "partial"} & set(modes)) or online, procedure.code
        if guide is not None:
            assert all(guide.steps_for(m) for m in modes), procedure.code
        if procedure.online_level_basis == "stated" and procedure.online_level == "partial":
            assert "full" not in modes, procedure.code


def test_a_record_saying_partial_online_is_not_offered_full_online_even_if_the_guide_has_those_steps(knowledge):
    stated = [p for p in knowledge.procedures if knowledge.guide(p.code) and p.online_level_basis == "stated"
              and p.online_level == "partial" and knowledge.guide(p.code).steps_for("full")]
    assert stated, "the shipped knowledge has such a procedure (sang tên xe)"
    for procedure in stated:
        assert available_modes(procedure, knowledge.guide(procedure.code)) == ["partial"]


# -- walkthroughs --------------------------------------------------------------------


def test_a_guided_walkthrough_is_the_guides_steps_for_the_path_with_the_payment_step_only_when_there_is_a_fee(
    engine, services, knowledge
):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        for mode in available_modes(procedure, guide):
            walk = walkthrough(context(engine, services, {"online_submission_mode": mode}, {"code": guide.code}))
            expected = [s.id for s in guide.steps_for(mode, has_fee=procedure.has_fee)]
            assert [s.id for s in walk.steps] == expected
            payment = any(s.only_if == "has_fee" and mode in s.applies_to for s in guide.online_walkthrough)
            assert ("thanh-toan" in expected) == (procedure.has_fee and payment)
            assert walk.checklist == tuple(short(d.item, ITEM_CHARS) for d in guide.documents_to_prepare)
            assert walk.steps[0].checklist and not any(s.checklist for s in walk.steps[1:])
            assert all(link.url.startswith("https://") for s in walk.steps for link in s.links)


def test_a_generic_walkthrough_quotes_the_record_and_adds_payment_only_for_a_fee(engine, services, knowledge):
    unguided = [p for p in knowledge.procedures if knowledge.guide(p.code) is None and p.channel("online")]
    with_fee = next(p for p in unguided if p.has_fee and p.steps)
    free = next(p for p in unguided if not p.has_fee and p.steps)
    for procedure in (with_fee, free):
        mode = available_modes(procedure, None)[0]
        walk = walkthrough(context(engine, services, {"online_submission_mode": mode}, {"code": procedure.code}))
        ids = [s.id for s in walk.steps]
        assert walk.generic
        assert ids[:3] == ["chuan-bi", "dang-nhap", "tim-thu-tuc"] and ids[-1] == "nop-ho-so"
        assert ("thanh-toan" in ids) == procedure.has_fee
        quoted = [s for s in walk.steps if s.id.startswith("quy-trinh-")]
        assert quoted and all(procedure.source_url in [lk.url for lk in s.links] for s in quoted)
        first_part = record_parts(procedure.steps)[0]
        assert short(first_part, 480)[:60] in quoted[0].text


def test_record_steps_are_grouped_where_a_new_step_starts():
    steps = [
        "- Bước 1: Chuẩn bị hồ sơ.",
        "- Bước 2: Nộp hồ sơ tại Công an cấp xã.",
        "+ Trường hợp hồ sơ đủ: cấp phiếu hẹn.",
        "+ Trường hợp hồ sơ thiếu: hướng dẫn bổ sung.",
        "Bước 3: Nhận kết quả.",
        "a) Nhận trực tiếp",
        "b) Nhận qua bưu điện",
    ]
    assert record_parts(steps) == [
        "- Bước 1: Chuẩn bị hồ sơ.",
        "- Bước 2: Nộp hồ sơ tại Công an cấp xã. + Trường hợp hồ sơ đủ: cấp phiếu hẹn. "
        "+ Trường hợp hồ sơ thiếu: hướng dẫn bổ sung.",
        "Bước 3: Nhận kết quả.",
        "a) Nhận trực tiếp",
        "b) Nhận qua bưu điện",
    ]
    assert record_parts(["Nộp hồ sơ.", "Cơ quan xem xét trong thời hạn ghi ở trên."]) == [
        "Nộp hồ sơ. Cơ quan xem xét trong thời hạn ghi ở trên."
    ]
    assert record_parts(["", "  "]) == []


def test_a_checklist_from_the_record_is_the_documents_answers_selection_and_says_how_many_it_left_out(knowledge):
    procedure = next(p for p in knowledge.procedures if knowledge.guide(p.code) is None
                     and len(select_documents(p, None).core) > 8 and select_documents(p, None).cases)
    items, left_out = record_checklist(procedure)
    selection = select_documents(procedure, None)
    assert items == [short(c.text, ITEM_CHARS) for c in selection.core[:8]]
    assert left_out == len(selection.core) - 8 + selection.special_count
    assert not any(n.is_note for n in (c.document for c in selection.core))
    assert len(set(items)) == len(items) and all(len(i) <= ITEM_CHARS + 1 for i in items)  # "…" when cut


def test_short_cuts_at_a_word_and_says_so():
    assert short("Giấy chứng sinh", 40) == "Giấy chứng sinh"
    assert short("Tờ khai đăng ký khai sinh theo mẫu", 20) == "Tờ khai đăng ký khai…"
    assert short("  nhiều   khoảng   trắng  ", 40) == "nhiều khoảng trắng"


def test_every_sticking_point_has_a_help_text(engine, services, knowledge):
    topics = {t for ts in STUCK_TOPICS.values() for t in ts} | {"general"} | set(TOPICS)
    for topic in topics:
        assert f"portal_help_topic_{topic}" in engine.responses or f"online_submission_stuck_{topic}" in engine.responses
    guide_steps = {s.id for g in knowledge.guides for s in g.online_walkthrough}
    assert {"dang-nhap", "chup-giay-to", "thanh-toan"} <= guide_steps & set(STUCK_TOPICS)


# -- walking the flow through the engine ------------------------------------------------


def _walk_to_the_end(chat: Chat, code: str, mode: str | None) -> list[str]:
    """Starts the flow for `code` with the button, picks `mode`, presses "Xong, tiếp" until it ends."""
    result = chat.send(f'/ask_howto_online{{"procedure":"{code}"}}')
    if mode is not None and result.flow and any("mode" in b.payload for r in result.replies for b in r.buttons):
        result = chat.send(f'/online_submission{{"mode":"{mode}"}}')
    headers = []
    for _ in range(40):
        if result.flow is None:
            break
        headers += [line for r in result.replies for line in r.text.splitlines() if line.startswith("📍")]
        result = chat.press("Xong, tiếp")
    assert result.flow is None and "online_submission" in result.completed, (code, mode, chat.said)
    return headers


def test_every_guide_can_be_walked_to_its_end_on_every_path_it_offers(engine, services, knowledge):
    for guide in knowledge.guides:
        procedure = knowledge.get(guide.code)
        for mode in available_modes(procedure, guide):
            chat = Chat(engine, services)
            headers = _walk_to_the_end(chat, guide.code, mode)
            total = len(guide.steps_for(mode, has_fee=procedure.has_fee))
            assert headers == [f"📍 Bước {i}/{total}: {s.title}"
                               for i, s in enumerate(guide.steps_for(mode, has_fee=procedure.has_fee), 1)]
            assert engine.responses.text(f"online_submission_done_{mode}") in chat.said
            assert any(b.payload == "/check_status" for r in chat.last.replies for b in r.buttons)


def test_procedures_without_a_guide_can_be_walked_to_their_end(engine, services, knowledge):
    # Every 40th procedure: odd records (no steps, no documents, no agency) must not break the walk.
    for procedure in knowledge.procedures[::40]:
        if knowledge.guide(procedure.code) is not None:
            continue
        modes = available_modes(procedure, None)
        for mode in modes or [None]:
            chat = Chat(engine, services)
            if mode is None:
                chat.send(f'/ask_howto_online{{"procedure":"{procedure.code}"}}')
                assert "online_submission" in chat.last.completed and procedure.source_url in [
                    lk.url for r in chat.last.replies for lk in r.links]
                continue
            headers = _walk_to_the_end(chat, procedure.code, mode)
            assert headers and all("(hướng dẫn chung)" in h for h in headers)


def test_ticks_are_kept_across_steps_and_a_change_of_path(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    chat.press("Toàn trình")
    chat.press("✔️ 2.")
    chat.send("1", confidence=0.9, intent="rate_service")  # the NLU reads a bare number as a rating
    assert [c.done for r in chat.last.replies for c in r.checklist] == [True, True, False, False]
    chat.press("Xong, tiếp")
    assert "số 3, 4" in chat.said
    chat.press("Quay lại")
    chat.press("Quay lại")  # from step 1 back to the choice of path
    assert "Bạn chọn cách nào" in chat.said
    chat.press("Qua bưu điện")
    assert [c.done for r in chat.last.replies for c in r.checklist] == [True, True, False, False]


def test_a_number_typed_away_from_the_checklist_is_not_a_tick(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    chat.press("Toàn trình")
    chat.press("Xong, tiếp")
    chat.send("2")
    assert "Tôi chưa hiểu" in chat.said and "Đã đánh dấu" not in chat.said


def test_another_procedure_named_mid_walkthrough_starts_over_for_it(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    chat.press("Toàn trình")
    chat.send('/ask_howto_online{"procedure":"1.001456"}')
    assert "Cấp hộ chiếu phổ thông" in chat.said and chat.state["slots"]["procedure_code"] == "1.001456"


# -- engine support ---------------------------------------------------------------------


def test_run_time_buttons_links_and_checklist_come_back_on_resume_and_after_a_json_round_trip(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    chat.press("Toàn trình")
    first = chat.last.replies[-1]
    chat.send("lệ phí bao nhiêu", intent="ask_fee", confidence=0.99)
    assert "procedure_info" in chat.last.started and "Miễn phí" in chat.said
    chat.press("Tiếp tục")
    again = chat.last.replies[-1]
    assert again.text == first.text and again.buttons == first.buttons and again.checklist == first.checklist


def test_extras_belong_to_one_question_and_are_dropped_once_it_is_answered(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    assert any("mode" in b.payload for b in chat.last.replies[-1].buttons)
    chat.press("Toàn trình")
    chat.press("Xong, tiếp")
    frame = chat.state["stack"][-1]
    assert [t for t, _ in frame["vars"]["prompt_extras"]["buttons"]] == []  # step 2 has no checklist buttons
    assert not any("mode" in b.payload or "tick" in b.payload for b in chat.last.replies[-1].buttons)


def test_a_typed_resume_word_answers_the_step_unless_a_digression_came_between(engine, services):
    chat = Chat(engine, services)
    chat.send('/ask_howto_online{"procedure":"1.001193"}')
    chat.press("Toàn trình")
    chat.send("quay lai", intent="resume", confidence=0.96)  # the NLU reads "quay lại" as resume
    assert "Bạn chọn cách nào" in chat.said  # back from step 1 to the choice of path
    chat.press("Toàn trình")
    chat.send("tiep", intent="resume", confidence=0.92)
    assert "Bước 2/10" in chat.said
    chat.send("lệ phí bao nhiêu", intent="ask_fee", confidence=0.99)
    chat.send("tiep", intent="resume", confidence=0.92)  # now it means: back to what I was doing
    assert "Bước 2/10" in chat.said


def test_state_from_dict_leaves_the_stored_state_untouched(engine, services):
    stored = {"stack": [{"flow": "online_submission", "step": 0, "vars": {"index": 1}, "waiting": True}], "slots": {}}
    before = json.loads(json.dumps(stored))
    state = State.from_dict(stored)
    state.stack[-1]["vars"]["index"] = 2
    assert stored == before


async def test_each_step_is_stored_even_when_messages_come_within_one_second(settings, nlu_model, user):
    from bot.runtime import build_assistant

    assistant = build_assistant(settings, nlu=nlu_model)
    assistant.clock = lambda: NOW  # the same second for every message
    await assistant.handle("terminal", user, '/ask_howto_online{"procedure":"1.001193"}')
    await assistant.handle("terminal", user, '/online_submission{"mode":"full"}')
    said = []
    for _ in range(4):
        turn = await assistant.handle("terminal", user, '/online_submission{"do":"next"}')
        said.append(next(line for r in turn.replies for line in r.text.splitlines() if line.startswith("📍")))
    assert [s.split(":")[0] for s in said] == ["📍 Bước 2/10", "📍 Bước 3/10", "📍 Bước 4/10", "📍 Bước 5/10"]
