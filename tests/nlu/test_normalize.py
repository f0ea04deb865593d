import pytest

from nlu.dossier_code import canonical_dossier_code, received_on
from nlu.normalize import DOSSIER_TOKEN, PHONE_TOKEN, normalize


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Làm GIẤY khai sinh cần gì", "lam giay khai sinh can gi"),
        ("lam giay khai sinh can j", "lam giay khai sinh can gi"),
        ("cho e hỏi đk tạm trú ko", "cho em hoi dang ky tam tru khong"),
        ("hs cccd cần gì ạ?", "ho so can cuoc cong dan can gi a"),
        ("đổi bằng lái hết bn tiền", "doi giay phep lai xe het bao nhieu tien"),
        ("khai\u200bsinh", "khaisinh"),
        ("Khai  sinh\u00a0\tcho   con", "khai sinh cho con"),
        ("khôngggg", "khong"),
        ("🙏 cảm ơn 😊", "cam on"),
        ("<script>alert(1)</script>", "script alert 1 script"),
    ],
)
def test_normalisation_makes_one_canonical_form(text, expected):
    assert normalize(text) == expected


def test_composed_and_decomposed_unicode_are_the_same():
    import unicodedata

    text = "đăng ký kết hôn"
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(text)


@pytest.mark.parametrize(
    "text, code",
    [
        ("hồ sơ 000.00.19.H12-230815-0001 tới đâu rồi", "000.00.19.H12-230815-0001"),
        ("ma ho so 000.00.19.h12 - 230815 - 0001", "000.00.19.H12-230815-0001"),
        ("G22.28-250101-0012", "G22.28-250101-0012"),
        ("số điện thoại 0912-345-678", None),
        ("ngày 2023-08-15", None),
        # spaces for dashes: only with a dotted agency and a real date
        ("xem giúp hồ sơ g22.28 250101 0012 với", "G22.28-250101-0012"),
        ("000.00.19.H12 231345 0001", None),
        ("gọi 0912 345 678", None),
    ],
)
def test_dossier_codes_are_found_tolerant_of_spaces_and_case(text, code):
    assert canonical_dossier_code(text) == code


def test_a_dossier_code_becomes_one_token_for_the_classifier():
    assert normalize("tra cứu hồ sơ 000.00.19.H12-230815-0001 giúp em") == f"tra cuu ho so {DOSSIER_TOKEN} giup em"


def test_the_date_inside_a_code_is_read():
    assert str(received_on("000.00.19.H12-230815-0001")) == "2023-08-15"
    assert received_on("000.00.19.H12-231345-0001") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("gọi vào số 0912 345 678 giúp tôi", f"goi vao so {PHONE_TOKEN} giup toi"),
        ("sđt 0912345678", f"so dien thoai {PHONE_TOKEN}"),
        ("+84 912.345.678 nhé", f"{PHONE_TOKEN} nhe"),
        ("cccd 001203004567", "can cuoc cong dan 001203004567"),
        ("5 sao", "5 sao"),
    ],
)
def test_a_phone_number_becomes_one_token(text, expected):
    assert normalize(text) == expected
