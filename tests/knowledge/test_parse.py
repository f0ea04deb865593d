"""The run-together table parser, pinned on awkward real records."""

from __future__ import annotations

import pytest

from knowledge import fold
from knowledge._importer import procedure_from_record
from knowledge._parse import (
    parse_audience,
    parse_channels,
    parse_conditions,
    parse_documents,
    parse_legal_basis,
    parse_levels,
    parse_online_level,
    parse_result,
    parse_steps,
)


def _rows(records, code):
    return [
        (c["kind"], c["time"]["value"], c["time"]["unit"], c["fee"]["kind"], [a["value"] for a in c["fee"]["amounts"]])
        for c in parse_channels(records[code]["cach_thuc_thuc_hien"])
    ]


@pytest.mark.parametrize(
    "code, expected",
    [
        # A bare time glued to an amount: "Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)" is 1 + 20, told by the note.
        ("1.000014", [("online", 1.0, None, "amount", [20.0]), ("in_person", 1.0, None, "amount", [20.0])]),
        # "125 VNĐ" has no telling note: the time "1" comes from the other rows of the record.
        (
            "2.002011",
            [
                ("online", 1.0, None, "amount", [100.0]),
                ("postal", 1.0, None, "amount", [100.0]),
                ("in_person", 1.0, None, "amount", [25.0]),
            ],
        ),
        # "1250 VNĐ" could be 1+250 or 12+50: nothing is invented, both stay unknown.
        ("2.002797", [("in_person", None, None, "unknown", [])]),
        # Free-text time cell "Không", unknown fee.
        (
            "1.009825",
            [
                ("in_person", None, None, "unknown", []),
                ("online", None, None, "unknown", []),
                ("postal", None, None, "unknown", []),
            ],
        ),
        # "Miễn phí" in the cell, the real fee list in the note: one amount per unit.
        (
            "1.004306",
            [
                ("postal", 18.0, "ngay", "amount", [15e6, 15e6, 18e6, 6e6, 15e6]),
                ("in_person", 18.0, "ngay", "amount", [15e6, 15e6, 18e6, 6e6, 15e6]),
            ],
        ),
        # "+ Trực tiếp tại cơ quan..." inside a description is not a new row.
        ("1.003677", [("online", 1.0, "ngay_lam_viec", "unknown", []), ("online", 2.0, "ngay_lam_viec", "unknown", [])]),
    ],
)
def test_channel_rows(records, code, expected):
    assert _rows(records, code) == expected


def test_a_time_without_unit_keeps_the_record_wording(records):
    online = parse_channels(records["1.000014"]["cach_thuc_thuc_hien"])[0]
    assert online["time"] == {"value": 1.0, "unit": None, "text": "1"}
    assert online["fee"]["text"] == "20.000 vnđ /tờ khai"


def test_small_vnd_amounts_are_flagged_doubtful(records):
    # The portal lists "145 VNĐ" for in-person rows whose note says "145 USD/thẻ".
    fees = [c["fee"] for c in parse_channels(records["1.003358"]["cach_thuc_thuc_hien"]) if c["kind"] == "in_person"]
    assert fees and all(f["amounts"][0]["currency"] == "VND" and f["amounts"][0]["doubtful"] for f in fees)
    online = [c["fee"]["amounts"][0] for c in parse_channels(records["1.003358"]["cach_thuc_thuc_hien"]) if c["kind"] == "online"]
    assert {(a["value"], a["currency"], a["doubtful"]) for a in online} == {
        (145.0, "USD", False),
        (155.0, "USD", False),
        (165.0, "USD", False),
    }


def test_free_cell_with_a_fee_in_the_note_is_flagged(records):
    online = parse_channels(records["3.000347"]["cach_thuc_thuc_hien"])[0]
    assert online["fee"]["kind"] == "free"
    assert online["fee"]["note_mentions_amount"] is True
    assert "135.000 đồng/lần" in online["fee"]["text"]


def test_note_does_not_swallow_the_description(records):
    row = parse_channels(records["1.002613"]["cach_thuc_thuc_hien"])[0]
    assert row["fee"]["amounts"][0]["value"] == 2_500_000
    assert row["description"] == "20 ngày làm việc kể từ khi nhận đủ hồ sơ hợp lệ."


@pytest.mark.parametrize(
    "code, expected",
    [
        (
            "1.002010",
            [
                ("Dự thảo Điều lệ của công ty luật", None, "1 bản chính", [(1, "ban_chinh")]),
                ("Giấy tờ chứng minh về trụ sở của tổ chức hành nghề luật sư.", None, "0 bản chính,1 bản sao", [(1, "ban_sao")]),
                (
                    "Giấy đề nghị đăng ký hoạt động theo mẫu thống nhất",
                    "Mẫu TP-LS-02-sđ.docx",
                    "1 bản chính",
                    [(1, "ban_chinh")],
                ),
            ],
        ),
        # "...ngày 24/07/20231 bản chính": the year keeps its digits, the count is 1.
        (
            "1.014980",
            [
                (
                    "Văn bản đề nghị ghi đầy đủ nội dung theo mẫu quy định tại Phụ lục IX ban hành kèm theo "
                    "Nghị định số 56/2023/NĐ-CP ngày 24/07/2023",
                    None,
                    "1 bản chính",
                    [(1, "ban_chinh")],
                ),
                (
                    "Danh sách cá nhân tham gia huấn luyện ghi rõ họ tên, ngày, tháng, năm sinh, chức vụ, trình độ "
                    "chuyên môn, số định danh cá nhân hoặc số hộ chiếu.",
                    None,
                    "1 bản chính",
                    [(1, "ban_chinh")],
                ),
            ],
        ),
    ],
)
def test_document_rows(records, code, expected):
    documents = parse_documents(records[code]["thanh_phan_ho_so"])
    assert [
        (d["name"], d["template"], d["quantity_text"], [(q["count"], q["kind"]) for q in d["quantity"]]) for d in documents
    ] == expected


def test_document_groups_follow_table_headings(records):
    documents = parse_documents(records["1.000889"]["thanh_phan_ho_so"])
    assert [(d["group"] or "")[:20] for d in documents] == ["Phiếu được tạo lập k", ""]
    assert documents[0]["template"] == "Mẫu CC01 Phiếu thu nhận thông tin căn cước.doc"
    assert documents[0]["name"].endswith("(Mẫu CC01 ban hành kèm theo Thông tư số 17/2024/TT-BCA của Bộ Công an)")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("--", []),
        ("); nộp hồ sơ cho cơ quan BHXH.\nBước 2. Cơ quan BHXH tiếp nhận hồ sơ", []),
    ],
)
def test_no_document_table_means_no_documents(text, expected):
    assert parse_documents(text) == expected


def test_legal_numbers_split_from_glued_titles(records):
    refs = parse_legal_basis(records["1.000080"]["can_cu_phap_ly"])
    numbers = {r["number"]: r["title"] for r in refs}
    assert len(refs) == 16 and all(r["number"] for r in refs)
    assert numbers["85/2019/TT-BTC"].startswith("Thông tư Hướng dẫn về phí và lệ phí")
    # "...của Bộ trưởng Bộ Tư phápThông tư số 03/2023/TT-BTP": the number cell's words leave the title.
    assert numbers["03/2023/TT-BTP"] == "Thông tư số 03/2023/TT-BTP ngày 02/8/2023 của Bộ trưởng Bộ Tư pháp"
    assert numbers["42/2020/NĐ-CP"] == "Nghị định 42/2020/NĐ-CP"
    # "Luật 60/2014/QH1360/2014/QH13": the legislature number does not swallow the next cell.
    assert numbers["60/2014/QH13"] == "Luật 60/2014/QH13"
    assert numbers["66.7/2025/NQ-CP"].startswith("Nghị quyết số 66.7/2025/NQ-CP")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Tên văn bản pháp lýMã văn bảnLuật Căn cước26/2023/QH15", [("Luật Căn cước", "26/2023/QH15")]),
        (
            "Tên văn bản pháp lýMã văn bảnQuyết định về chế độ28/2018/QĐ-TTgNghị định 01/2026/NĐ-CPLUẬT ĐẤT ĐAI31/2024/QH15",
            [
                ("Quyết định về chế độ", "28/2018/QĐ-TTg"),
                ("Nghị định 01/2026/NĐ-CP", "01/2026/NĐ-CP"),
                ("LUẬT ĐẤT ĐAI", "31/2024/QH15"),
            ],
        ),
        ("Không có thông tin", []),
    ],
)
def test_legal_basis_table(text, expected):
    assert [(r["title"], r["number"]) for r in parse_legal_basis(text)] == expected


@pytest.mark.parametrize(
    "code, expected",
    [
        ("1.000080", ["Trích lục đăng ký nhận cha, mẹ, con"]),
        (
            "1.013950",
            [
                "Quyết định chuyển hình thức giao đất, cho thuê đất",
                "Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
            ],
        ),
        # A placeholder result code ("Mã: rjwegefu") and the page chrome are dropped.
        ("1.013807", ["Quyết định đăng ký tập sự hành nghề công chứng hoặc văn bản từ chối có nêu rõ lý do"]),
    ],
)
def test_result_names_without_page_chrome(records, code, expected):
    assert parse_result(records[code]["ket_qua_xu_ly"]) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("1.012575", ("full", "stated")),
        ("1.013076", ("partial", "stated")),
    ],
)
def test_online_level_stated_in_the_name(records, name, expected):
    level, basis, evidence = parse_online_level(records[name]["ten_thu_tuc"], "", [{"kind": "in_person"}])
    assert (level, basis) == expected
    assert "trực tuyến" in evidence


@pytest.mark.parametrize(
    "kinds, expected",
    [
        ({"online", "in_person"}, "partial"),
        ({"in_person", "postal"}, "none"),
        (set(), "unknown"),
    ],
)
def test_online_level_inferred_from_channels(kinds, expected):
    level, basis, _ = parse_online_level("Đăng ký khai sinh", "Bước 1: nộp hồ sơ", [{"kind": k} for k in sorted(kinds)])
    assert (level, basis) == (expected, "inferred")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Công dân Việt Nam, Cán bộ, công chức, viên chức", ["Công dân Việt Nam", "Cán bộ, công chức, viên chức"]),
        (
            "Tổ chức (không bao gồm doanh nghiệp, HTX), Doanh nghiệp",
            ["Tổ chức (không bao gồm doanh nghiệp, HTX)", "Doanh nghiệp"],
        ),
    ],
)
def test_audience(text, expected):
    assert parse_audience(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Cấp bộ, Cấp tỉnh, Cấp xã", ["bo", "tinh", "xa"]),
        ("Cấp xã, Cơ quan khác", ["xa", "khac"]),
    ],
)
def test_levels(text, expected):
    assert parse_levels(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Không có thông tin", []),
        ("Không.", []),
        ("- Có năng lực hành vi dân sự;\n- Hơn con nuôi 20 tuổi", ["- Có năng lực hành vi dân sự;", "- Hơn con nuôi 20 tuổi"]),
    ],
)
def test_conditions(text, expected):
    assert parse_conditions(text) == expected


def test_steps_on_one_line_split_at_each_step():
    text = "+ Bước 1: Doanh nghiệp gửi hồ sơ. + Bước 2: Ngân hàng kiểm tra. + Bước 3: Cấp giấy phép."
    assert parse_steps(text) == ["+ Bước 1: Doanh nghiệp gửi hồ sơ.", "+ Bước 2: Ngân hàng kiểm tra.", "+ Bước 3: Cấp giấy phép."]


def test_misaligned_record_takes_documents_from_the_page(records):
    # The record's documents field holds the tail of its steps; the page text has the real table.
    procedure = procedure_from_record(records["1.001613"], "bo-tai-chinh")
    names = [d.name for d in procedure.documents]
    assert "b) Đơn đề nghị (Mẫu số 14-HSB)" in names
    assert "a) Sổ BHXH" in names
    assert procedure.steps[0].startswith("Bước 1. Lập, nộp hồ sơ")
    assert procedure.steps[-1].startswith("Bước 3. Nhận kết quả")


def test_whole_record(records):
    procedure = procedure_from_record(records["1.014063"], "bo-cong-an")
    assert procedure.code == "1.014063"
    assert procedure.name == "Cấp đổi thẻ căn cước"
    assert procedure.levels == ["xa"]
    assert procedure.catalog_date == "2026-06"
    assert procedure.source_url.startswith("https://dichvucong.gov.vn/")
    online = procedure.channel("online")
    assert online is not None and online.time.value == 7 and online.time.unit == "ngay_lam_viec"
    assert [(a.value, a.currency) for a in online.fee.amounts] == [(50_000, "VND")]
    assert procedure.has_fee
    assert procedure.result == ["Thẻ căn cước"]
    assert procedure.online_level == "partial" and procedure.online_level_legacy == "mức độ 3"
    assert any(fold("Phiếu đề nghị giải quyết thủ tục về căn cước") in fold(d.name) for d in procedure.documents)
    assert all(ref.number for ref in procedure.legal_basis)
