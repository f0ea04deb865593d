import logging

import pytest

from bot.privacy import MaskingFilter, mask


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("cccd của tôi là 001203004567", "001203004567"),
        ("cmnd 123456789", "123456789"),
        ("gọi em số 0912 345 678 nhé", "0912 345 678"),
        ("sdt +84912345678", "+84912345678"),
        ("hồ sơ 000.00.19.H12-230815-0001 tới đâu rồi", "000.00.19.H12-230815-0001"),
        ("mã g22.28 - 250101 - 0012", "g22.28 - 250101 - 0012"),
    ],
)
def test_personal_data_never_reaches_the_log_in_clear(text, hidden):
    masked = mask(text)
    assert hidden not in masked
    assert "***" in masked


def test_ordinary_words_and_years_are_left_alone():
    assert mask("làm giấy khai sinh năm 2024 mất 3 ngày") == "làm giấy khai sinh năm 2024 mất 3 ngày"


def test_the_logging_filter_masks_arguments_too():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "user said %s", ("số tôi 0912345678",), None)
    MaskingFilter().filter(record)
    assert "0912345678" not in record.getMessage()
