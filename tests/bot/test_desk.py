"""The desk: tickets and feedback really stored (and really deleted), the staff view, typed commands."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.commands import TypedCommands
from bot.desk import StoredDesk, parse_reference, render_desk
from bot.storage import Feedback, Message, Store, Ticket, User
from flows.actions.desk import _has_personal_number, answer_words
from nlu.result import ParseResult


@pytest.fixture
def desk(tmp_path) -> StoredDesk:
    return StoredDesk(Store.open(f"sqlite:///{tmp_path / 'desk.db'}"))


def _rows(store: Store, model, user_key: str) -> list:
    channel, external_id = user_key.split(":", 1)
    with store.session() as s:
        return list(s.execute(
            select(model).join(User, model.user_id == User.id)
            .where(User.channel == channel, User.external_id == external_id).order_by(model.id)
        ).scalars())


def _messages(store: Store, user_key: str) -> int:
    channel, external_id = user_key.split(":", 1)
    with store.session() as s:
        return s.execute(
            select(func.count(Message.id)).join_from(Message, Message.conversation)
            .join(User).where(User.channel == channel, User.external_id == external_id)
        ).scalar_one()


# -- the desk on its own ---------------------------------------------------------------------


def test_asking_twice_keeps_one_open_ticket_with_both_summaries(desk):
    first = desk.open_ticket("web:u1", "request_human", "Thủ tục: khai sinh")
    second = desk.open_ticket("web:u1", "request_human", "Tin nhắn: gấp lắm")
    assert first == second and first.startswith("YC-")
    [ticket] = desk.open_tickets()
    assert "khai sinh" in ticket.summary and "gấp lắm" in ticket.summary
    assert desk.open_ticket("web:u2", "request_human", "") != first  # another person, another ticket


def test_a_closed_ticket_lets_the_next_request_open_a_new_one(desk):
    first = desk.open_ticket("zalo:9", "stuck", "bước 3")
    assert parse_reference("yc 1") == ("YC", 1)
    assert desk.close_ticket(first.lower().replace("-", ""))  # staff may type "yc00001"
    assert not desk.close_ticket(first)  # already closed
    assert not desk.close_ticket("PA-00001")  # not a ticket reference
    assert desk.open_tickets() == []
    assert desk.open_ticket("zalo:9", "stuck", "bước 4") != first


def test_a_comment_completes_the_rating_just_given_instead_of_counting_twice(desk):
    rated = desk.save_feedback("web:u1", "rating", "", rating="unsatisfied")
    assert desk.save_feedback("web:u1", "rating", "khó hiểu quá", rating="unsatisfied") == rated
    assert desk.rating_counts() == {"unsatisfied": 1}
    [feedback] = desk.recent_feedback()
    assert (feedback.reference, feedback.text) == (rated, "khó hiểu quá")
    desk.save_feedback("web:u1", "rating", "", rating="satisfied")  # a later rating is a new one
    desk.save_feedback("web:u1", "rating", "lần này ổn", rating="satisfied")
    assert desk.rating_counts() == {"unsatisfied": 1, "satisfied": 1}


def test_a_comment_long_after_the_rating_is_not_attached_to_it(desk):
    now = [datetime(2026, 11, 22, 9, 0)]
    desk.clock = lambda: now[0]
    rated = desk.save_feedback("web:u1", "rating", "", rating="satisfied")
    now[0] += timedelta(hours=2)
    assert desk.save_feedback("web:u1", "rating", "góp ý sau", rating="satisfied") != rated


def test_bad_feedback_is_refused_with_what_was_wrong(desk):
    with pytest.raises(ValueError, match="kind"):
        desk.save_feedback("web:u1", "praise", "x")
    with pytest.raises(ValueError, match="rating"):
        desk.save_feedback("web:u1", "rating", "", rating="5 stars")
    with pytest.raises(ValueError, match="channel:external_id"):
        desk.open_ticket("no-channel", "request_human", "")


def test_forget_user_removes_their_tickets_and_feedback_and_nobody_elses(desk):
    desk.open_ticket("telegram:1", "request_human", "a")
    desk.save_feedback("telegram:1", "complaint", "cán bộ làm chậm hồ sơ")
    desk.save_feedback("telegram:1", "rating", "", rating="satisfied")
    desk.save_feedback("telegram:2", "complaint", "nên thêm ghế chờ")
    assert desk.forget_user("telegram:1") == 4  # the user, a ticket, two feedback rows
    assert _rows(desk.store, Ticket, "telegram:1") == [] and _rows(desk.store, Feedback, "telegram:1") == []
    assert [f.text for f in desk.recent_feedback()] == ["nên thêm ghế chờ"]
    assert desk.forget_user("telegram:1") == 0


def test_the_staff_view_masks_id_and_phone_numbers(desk):
    desk.open_ticket("web:u1", "request_human", "Tin nhắn: số tôi 0912345678, CCCD 001203012345")
    desk.save_feedback("web:u1", "complaint", "gọi 0987654321 không ai nghe")
    text = render_desk(desk)
    assert "YC-00001" in text and "PA-00001" in text
    assert "0912345678" not in text and "001203012345" not in text and "0987654321" not in text
    assert "[sđt 09***78]" in text and "[số giấy tờ 00***45]" in text


def test_python_m_bot_desk_lists_and_closes_tickets(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    desk = StoredDesk(Store.open(url))
    ticket = desk.open_ticket("zalo:77", "stuck", "Thủ tục: Đăng ký khai sinh")
    assert main(["desk"]) == 0
    out = capsys.readouterr().out
    assert ticket in out and "zalo:77" in out and "Đăng ký khai sinh" in out
    assert main(["desk", "--close", ticket]) == 0
    assert main(["desk", "--close", ticket]) == 2  # nothing open by that number any more
    capsys.readouterr()
    assert main(["desk", "--json"]) == 0
    assert '"open_tickets": []' in capsys.readouterr().out


# -- typed words -----------------------------------------------------------------------------


class _Model:
    async def parse(self, text: str) -> ParseResult:
        return ParseResult(text=text, intent="out_of_scope", confidence=0.3)


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("bảo mật", "privacy"),
        ("Bảo mật!", "privacy"),
        ("quyen rieng tu", "privacy"),
        ("Xóa dữ liệu của tôi", "delete_my_data"),
        ("xoa du lieu cua toi", "delete_my_data"),
        ("XOÁ DỮ LIỆU", "delete_my_data"),
        ("phan anh", "feedback"),
        ("bảo mật thông tin hồ sơ đất đai có an toàn không", "out_of_scope"),  # a question, for the model
        ("tôi muốn xoá đăng ký tạm trú", "out_of_scope"),
    ],
)
def test_typed_commands_match_a_whole_message_only(typed, intent):
    parse = asyncio.run(TypedCommands.load(_Model()).parse(typed))
    assert parse.intent == intent


def test_a_phrase_listed_for_two_intents_fails_at_start(tmp_path):
    path = tmp_path / "commands.yml"
    path.write_text("privacy: [bảo mật]\ndelete_my_data: [bao mat]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bao mat.*privacy and delete_my_data"):
        TypedCommands.load(_Model(), path)


def test_every_typed_answer_is_one_the_desk_flows_know():
    words = answer_words()
    assert set(words["rating"]) == {"very_satisfied", "satisfied", "unsatisfied"}
    assert set(words["comment"]) == {"skip", "person"}
    assert set(words["complaint_confirm"]) == {"send", "edit", "cancel"}
    assert set(words["delete_confirm"]) == {"delete", "keep"}
    for group in ("rating", "comment", "complaint_confirm", "delete_confirm"):
        seen: dict[str, str] = {}
        for answer, spec in words[group].items():
            for word in spec["words"]:
                assert seen.setdefault(word, answer) == answer, f"'{word}' means both {seen[word]} and {answer}"


@pytest.mark.parametrize(
    ("complaint", "flagged"),
    [
        ("gọi 0912345678 cả tuần không ai nghe", True),
        ("số CCCD của tôi 001203012345 bị ghi sai", True),
        ("sđt 0912 345 678", True),
        ("hồ sơ 000.00.19.H12-230815-0001 trễ hẹn", False),  # the desk needs the dossier code
        ("hẹn ngày 15.08.2024 mà chưa có kết quả", False),
    ],
)
def test_a_complaint_with_an_id_or_phone_number_is_flagged_before_sending(complaint, flagged):
    assert _has_personal_number(complaint) is flagged


# -- through the real Assistant ----------------------------------------------------------------


async def _say(assistant, user: str, *texts: str):
    turn = None
    for text in texts:
        turn = await assistant.handle("web", user, text)
    return turn


def _text(turn) -> str:
    return "\n".join(r.text for r in turn.replies)


async def test_a_handover_stores_one_ticket_with_what_the_conversation_was_about(assistant, user):
    await _say(assistant, user, "làm giấy khai sinh cần giấy tờ gì")
    first = _text(await _say(assistant, user, "tôi muốn gặp cán bộ"))
    again = _text(await _say(assistant, user, "cho tôi gặp cán bộ đi, gấp lắm"))
    [ticket] = _rows(assistant.store, Ticket, f"web:{user}")
    reference = f"YC-{ticket.id:05d}"
    assert reference in first and reference in again
    assert ticket.status == "open" and ticket.reason == "request_human"
    assert "Thủ tục đăng ký khai sinh (1.001193)" in ticket.summary and "gấp lắm" in ticket.summary


async def test_the_not_understood_button_says_why_on_the_ticket(assistant, user):
    await _say(assistant, user, '/request_human{"reason":"not_understood"}')
    [ticket] = _rows(assistant.store, Ticket, f"web:{user}")
    assert ticket.reason == "not_understood" and "chưa hiểu" in ticket.summary


async def test_a_rating_and_its_comment_are_stored_as_one(assistant, user):
    await _say(assistant, user, "tạm biệt", '/rate_service{"rating":"unsatisfied"}')
    [rating] = _rows(assistant.store, Feedback, f"web:{user}")
    assert (rating.kind, rating.rating, rating.text) == ("rating", "unsatisfied", "")  # stored before the comment
    turn = await _say(assistant, user, "hướng dẫn nộp trực tuyến khó hiểu quá")
    assert "ghi nhận" in _text(turn)
    [rating] = _rows(assistant.store, Feedback, f"web:{user}")
    assert rating.text == "hướng dẫn nộp trực tuyến khó hiểu quá"


async def test_a_complaint_is_stored_only_once_confirmed(assistant, user):
    content = "cán bộ một cửa phường 5 không hướng dẫn rõ ràng, bắt tôi đi lại ba lần"
    await _say(assistant, user, "tôi muốn phản ánh", content)
    assert _rows(assistant.store, Feedback, f"web:{user}") == []  # not before "Gửi"
    turn = await _say(assistant, user, '/choose{"choice":"send"}')
    [complaint] = _rows(assistant.store, Feedback, f"web:{user}")
    assert (complaint.kind, complaint.text) == ("complaint", content)
    assert f"PA-{complaint.id:05d}" in _text(turn)


async def test_a_cancelled_complaint_stores_nothing(assistant, user):
    await _say(assistant, user, "tôi muốn phản ánh", "nên có thêm chỗ ngồi chờ ở bộ phận một cửa", '/choose{"choice":"cancel"}')
    assert _rows(assistant.store, Feedback, f"web:{user}") == []


async def test_deleting_my_data_removes_it_all_and_the_next_message_starts_afresh(assistant, user):
    key = f"web:{user}"
    await _say(assistant, user, "làm giấy khai sinh cần giấy tờ gì", "tôi muốn gặp cán bộ", "tạm biệt",
               '/rate_service{"rating":"satisfied"}', "/xoadulieu")
    stored = len(_rows(assistant.store, Ticket, key)) + len(_rows(assistant.store, Feedback, key))
    assert stored == 2 and _messages(assistant.store, key) >= 10
    turn = await _say(assistant, user, '/choose{"choice":"delete"}')
    assert "Đã xoá" in _text(turn) and turn.flow is None and turn.slots == {}
    assert _rows(assistant.store, Ticket, key) == [] and _rows(assistant.store, Feedback, key) == []
    assert _messages(assistant.store, key) == 0  # not even the confirmation is kept
    with assistant.store.session() as s:
        assert s.execute(select(User).where(User.channel == "web", User.external_id == user)).first() is None
    turn = await _say(assistant, user, "lệ phí bao nhiêu vậy")
    assert "procedure_code" not in turn.slots and _messages(assistant.store, key) == 2


async def test_the_hotline_and_hours_come_from_the_settings(settings, nlu_model, user):
    from dataclasses import replace

    from bot.runtime import build_assistant

    with_contact = replace(settings, desk_hotline="1900 1234", desk_hours="7:30–17:00, thứ Hai đến thứ Sáu")
    assistant = build_assistant(with_contact, nlu=nlu_model)
    text = _text(await _say(assistant, user, "tôi muốn gặp cán bộ"))
    assert "📞 Đường dây nóng: 1900 1234" in text and "🕒 Giờ làm việc: 7:30–17:00, thứ Hai đến thứ Sáu" in text
    assert "chưa có số đường dây nóng" not in text

    hours_only = build_assistant(replace(settings, desk_hotline="", desk_hours="sáng thứ Bảy"), nlu=nlu_model)
    text = _text(await _say(hours_only, user + "-b", "tôi muốn gặp cán bộ"))
    assert "sáng thứ Bảy" in text and "chưa có số đường dây nóng" in text


async def test_staff_read_what_the_conversation_knows_in_words_not_slot_names(assistant, user):
    await _say(assistant, user, "làm hộ chiếu hết bao nhiêu tiền")
    await _say(assistant, user, '/rate_service{"rating":"unsatisfied"}')
    await _say(assistant, user, "khó hiểu quá, cho tôi gặp cán bộ")
    [ticket] = _rows(assistant.store, Ticket, f"web:{user}")
    known = next(line for line in ticket.summary.splitlines() if line.startswith("Đã biết"))
    assert "Đánh giá: chưa hài lòng" in known and "Phần đang hỏi: phí, lệ phí" in known
    assert "_" not in known and "=" not in known and "unsatisfied" not in known  # no internal name or value
