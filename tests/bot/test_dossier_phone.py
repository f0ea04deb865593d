"""One reader of Vietnamese mobile numbers for the desk's call-back and the dossier notices (ZNS)."""

from __future__ import annotations

import pytest

from flows.actions.desk import mobile_number, validate_callback_phone
from flows.actions.dossier_status_lookup import take_notice_phone
from nlu.result import ParseResult

NUMBERS = [
    ("0912345678", "0912345678"),
    ("0912 345 678", "0912345678"),
    ("số của tôi là 0912.345.678 nhé", "0912345678"),
    ("+84 912 345 678", "0912345678"),
    ("(+84) 912-345-678", "0912345678"),
    ("84912345678", "0912345678"),
    ("0386 123 456", "0386123456"),
    ("0212345678", None),  # a landline: no ZNS, no mobile call-back
    ("0112345678", None),  # no mobile network uses 01x any more
    ("091234567", None),  # a digit short
    ("09123456789", None),  # a digit too many
    ("001090012345", None),  # an ID number
    ("000.00.19.H12-261105-0031", None),  # a dossier code
    ("không có số", None),
]


class Context:
    """What the two actions use of a turn: the message, the slots, the services; what they say."""

    def __init__(self, text: str):
        self.parse = ParseResult(text=text, intent=None)
        self.slots: dict = {}
        self.frame_vars: dict = {}
        self.services = type("Services", (), {"user_key": "zalo:1", "dossiers": None, "desk": None})()
        self.value = None
        self.said: list[tuple[str, dict]] = []

    def say(self, key: str, **values) -> None:
        self.said.append((key, values))


@pytest.mark.parametrize("text, mobile", NUMBERS)
def test_both_flows_read_a_phone_number_the_same_way(text, mobile):
    assert mobile_number(text) == mobile
    desk, notice = Context(text), Context(text)
    assert validate_callback_phone(desk) == ("valid" if mobile else "invalid")
    assert take_notice_phone(notice) == ("valid" if mobile else "not_a_phone")
    if mobile:
        assert desk.slots["handover_phone"] == mobile
        assert notice.value == f"{mobile[:3]}*****{mobile[-2:]}"  # only the masked number stays in the slot


async def test_a_landline_given_for_notices_gets_a_polite_reply_and_is_not_kept(assistant, user):
    await assistant.handle("zalo", user, "/notice_phone")
    turn = await assistant.handle("zalo", user, "0212 345 678")
    said = "\n".join(r.text for r in turn.replies)
    assert "chưa đọc được số điện thoại" in said and "0912345678" in said  # says what is expected
    assert assistant.dossiers.needs_phone(f"zalo:{user}")
    turn = await assistant.handle("zalo", user, "0912 345 678")
    assert "091*****78" in "\n".join(r.text for r in turn.replies)
    assert not assistant.dossiers.needs_phone(f"zalo:{user}")
