"""Parsers for the catalog's run-together table text.

The portal renders tables whose cells were scraped without separators, e.g.
``Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phíTrực tiếp1Miễn phí``.
Each parser splits on anchors that cannot occur inside a cell the way they occur
at a cell border (a channel name glued to the next cell, a quantity
``1 bản chính`` glued to the next row, a legal number glued to the next title).
When a value cannot be told apart, it is kept verbatim and marked unknown:
nothing here invents a unit, an amount or a time.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from ._text import clean_text, fold

__all__ = [
    "page_sections",
    "parse_audience",
    "parse_channels",
    "parse_conditions",
    "parse_documents",
    "parse_legal_basis",
    "parse_levels",
    "parse_online_level",
    "parse_result",
    "parse_steps",
]

# --- channels ("Cách thức thực hiện") -------------------------------------

CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
CHANNEL_KINDS = {"Trực tuyến": "online", "Trực tiếp": "in_person", "Dịch vụ bưu chính": "postal"}
_CHANNEL_ANCHOR = re.compile("|".join(CHANNEL_KINDS))
TIME_UNITS = {"Ngày làm việc": "ngay_lam_viec", "Ngày": "ngay", "Giờ": "gio", "Tháng": "thang"}
_TIME = re.compile(r"(\d+(?:[.,]\d+)?)(?: ?(Ngày làm việc|Ngày|Giờ|Tháng))?")
_CURRENCY = r"(Việt Nam Đồng|VNĐ|Đồng|USD)"
_AMOUNT_CELL = re.compile(r"(\d[\d.,]*) ?" + _CURRENCY)
_FEE_START = re.compile(r"Miễn phí|Không có thông tin|\d[\d.,]* ?" + _CURRENCY)
# Fee entries the portal lists inside the note: "Phí: 400000 Đồng (...)" and a
# leading "15000000/lần Đồng (...)" when the first entry did not fit the cell.
_NOTE_AMOUNT = re.compile(r"(?:^\(*\s*|Phí\s*:\s*)(\d[\d.,]*)(/[^\s(]+)?\s*" + _CURRENCY)
_MONEY_WORDS = re.compile(r"\d[\d.,]*\s*(?:đồng|Đồng|đ\b|Đ\b|VNĐ|vnđ|USD)|\d{1,3}(?:\.\d{3})+(?!/)", re.IGNORECASE)
_NO_INFO = "Không có thông tin"


def _is_row_anchor(text: str, end: int) -> bool:
    """A channel name starts a row only when the next cell is glued to it.

    Inside a description the same words are followed by a space or ':'
    ("nộp hồ sơ Trực tiếp: tại ..."); at a row border the time cell follows at
    once and starts with a digit or a capital ("Trực tuyến5 Ngày", "Trực tiếpKhông").
    """
    return end < len(text) and (text[end].isdigit() or text[end].isupper())


def _balanced_group(text: str, start: int) -> int:
    """Index just after the bracket group opening at ``start`` (or len(text))."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _number(text: str) -> Optional[float]:
    """Parse "2,000,000" / "2.000.000" / "1,5" into a float."""
    text = text.strip(".,")
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", text):
        return float(re.sub(r"[.,]", "", text))
    if re.fullmatch(r"\d+(?:[.,]\d+)?", text):
        return float(text.replace(",", "."))
    return None


def _currency(word: str) -> str:
    return "USD" if word == "USD" else "VND"


def _money(value: float, currency: str, text: str) -> dict[str, Any]:
    return {
        "value": value,
        "currency": currency,
        "text": text.strip(),
        "doubtful": currency == "VND" and 0 < value < 1000,
    }


def _valid_amount_digits(digits: str) -> bool:
    if not digits or digits[0] == "0":
        return False
    if "," in digits or "." in digits:
        return re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits) is not None
    return digits.isdigit()


def _split_fused_time(digits: str, note: str, sibling_times: list[str]) -> Optional[tuple[str, str]]:
    """Split "120" in "Trực tuyến120 VNĐ" into a unit-less time and an amount.

    The time cell has no unit, so its digits run into the amount. A split is
    accepted when it is the only valid one (thousands grouping), when the note
    repeats the amount ("(20.000 vnđ /tờ khai)"), or when another row of the
    same record has that time. Otherwise None: both stay unknown.
    """
    options = [
        (digits[:i], digits[i:]) for i in range(1, len(digits)) if digits[:i].isdigit() and _valid_amount_digits(digits[i:])
    ]
    if len(options) == 1:
        return options[0]
    note_numbers = {_number(n) for n in re.findall(r"\d[\d.,]*\d|\d", note)}
    by_note = [
        (time, amount)
        for time, amount in options
        if (value := _number(amount)) is not None and (value in note_numbers or value * 1000 in note_numbers)
    ]
    if len(by_note) == 1:
        return by_note[0]
    by_sibling = [(time, amount) for time, amount in options if time in sibling_times]
    if len(by_sibling) == 1:
        return by_sibling[0]
    return None


def _parse_fee(cell: str) -> tuple[dict[str, Any], str]:
    """Parse the fee cell at the start of ``cell``; return (fee, description)."""
    amounts: list[dict[str, Any]] = []
    if cell.startswith("Miễn phí"):
        label, rest = "Miễn phí", cell[len("Miễn phí") :]
    elif cell.startswith(_NO_INFO):
        label, rest = _NO_INFO, cell[len(_NO_INFO) :]
    elif match := _AMOUNT_CELL.match(cell):
        label, rest = match.group(0), cell[match.end() :]
        value = _number(match.group(1))
        if value is not None:
            amounts.append(_money(value, _currency(match.group(2)), label))
    else:
        return {"kind": "unknown", "amounts": [], "label": "", "text": ""}, cell.strip()
    note = ""
    if rest.startswith("("):
        end = _balanced_group(rest, 0)
        note, rest = rest[1 : end - 1 if rest[end - 1 : end] == ")" else end], rest[end:]
        note = note.strip()
        # The portal sometimes closes the note twice ("...Bộ Tài chính.))").
        rest = rest.lstrip(")")
    for match in _NOTE_AMOUNT.finditer(note):
        value = _number(match.group(1))
        text = match.group(0).lstrip("( :Phí")
        # The note often repeats the cell's amount ("Phí : 50.000 Đồng"); amounts
        # with their own unit ("15000000/lần", "15000000/chiếc") are kept apart.
        repeated = any(value == a["value"] and (not match.group(2) or text == a["text"]) for a in amounts)
        if value and not repeated:
            amounts.append(_money(value, _currency(match.group(3)), text))
    paid = [a for a in amounts if a["value"] > 0]
    if paid:
        kind = "amount"
    elif label == "Miễn phí":
        kind = "free"
    else:
        kind = "unknown"
    fee = {
        "kind": kind,
        "amounts": paid,
        "label": label.strip(),
        "text": clean_text(note),
        "note_mentions_amount": kind != "amount" and bool(_MONEY_WORDS.search(note)),
    }
    return fee, rest


def _channel_rows(text: str) -> Iterator[tuple[str, str]]:
    body = text[len(CHANNEL_HEADER) :] if text.startswith(CHANNEL_HEADER) else text
    anchors = [m for m in _CHANNEL_ANCHOR.finditer(body) if _is_row_anchor(body, m.end())]
    for i, match in enumerate(anchors):
        end = anchors[i + 1].start() if i + 1 < len(anchors) else len(body)
        yield CHANNEL_KINDS[match.group(0)], body[match.end() : end]


def _fused_row(cell: str) -> Optional[tuple[str, str, str, str]]:
    """(digits, amount cell, note, rest) when a bare time runs into the amount."""
    fused = re.match(r"(\d[\d.,]*) ?" + _CURRENCY, cell)
    if not fused:
        return None
    after = cell[fused.end() :]
    end = _balanced_group(after, 0) if after.startswith("(") else 0
    return fused.group(1), fused.group(0), after[1 : end - 1] if end else "", after


def parse_channels(text: str) -> list[dict[str, Any]]:
    """Split "Cách thức thực hiện" into channels with time, fee and description."""
    rows = list(_channel_rows(text))
    fused_rows = {i: f for i, (_, cell) in enumerate(rows) if (f := _fused_row(cell))}
    # Resolve glued "time+amount" cells first from their own notes, then from
    # the times the other rows of the record state.
    known_times = [m.group(1) for i, (_, cell) in enumerate(rows) if i not in fused_rows and (m := _TIME.match(cell))]
    splits: dict[int, Optional[tuple[str, str]]] = {}
    for _ in range(2):
        for i, (digits, _, note, _) in fused_rows.items():
            if splits.get(i) is None:
                splits[i] = _split_fused_time(digits, note, known_times)
        known_times += [split[0] for split in splits.values() if split]
    channels = []
    for i, (kind, cell) in enumerate(rows):
        time: dict[str, Any] = {"value": None, "unit": None, "text": ""}
        if i in fused_rows:
            split = splits[i]
            if split is None:
                digits, label, note, after = fused_rows[i]
                time["text"] = digits
                fee = {
                    "kind": "unknown",
                    "amounts": [],
                    "label": label,
                    "text": clean_text(note),
                    "note_mentions_amount": bool(_MONEY_WORDS.search(note)),
                }
                rest = after[len(note) + 2 :] if after.startswith("(") else after
                channels.append({"kind": kind, "time": time, "fee": fee, "description": clean_text(rest)})
                continue
            time.update(value=float(split[0]), text=split[0])
            cell = cell[len(split[0]) :]
        elif match := _TIME.match(cell):
            time.update(
                value=_number(match.group(1)),
                unit=TIME_UNITS.get(match.group(2) or ""),
                text=match.group(0),
            )
            cell = cell[match.end() :]
        else:
            # Free-text time ("Không có thông tin", "Không quy định", a sentence):
            # it runs until the fee cell starts.
            start = _FEE_START.search(cell, 1)
            cut = start.start() if start else len(cell)
            time["text"], cell = cell[:cut].strip(), cell[cut:]
        fee, rest = _parse_fee(cell)
        channels.append({"kind": kind, "time": time, "fee": fee, "description": clean_text(rest)})
    return channels


# --- documents ("Thành phần hồ sơ") ---------------------------------------

DOCUMENT_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
# The quantity cell: "1 bản chính", "0 bản chính,1 bản sao".
_QUANTITY = re.compile(r"(\d) bản chính(?:,(\d) bản sao)?")
_TEMPLATE_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rtf|odt)$", re.IGNORECASE)
_LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"


def _is_quantity_cell(text: str, match: re.Match[str]) -> bool:
    """A quantity ends a row; the same words inside a name read "01 bản chính hoặc"."""
    start = match.start()
    if start > 0 and text[start - 1] == "0" and (start < 2 or not text[start - 2].isdigit()):
        return False  # "01 bản chính": zero-padded counts only occur in prose
    after = text[match.end() : match.end() + 2]
    return not re.match(rf"\s[{_LOWER}(]", after)


_FORM_START = re.compile(r"(?:Mẫu|Mau|MẪU|MAU|Mus|Phụ lục|Phu luc|PHỤ LỤC|PL|BM|TK|Tờ khai|To khai|Biểu mẫu)")


_NAME_END_GLUED = re.compile(r"theo (?:mẫu quy định|mẫu|quy định)(?=[^\W\d_])")


def _glued_borders(body: str) -> Iterator[tuple[int, bool]]:
    """Positions where two cells were glued: (index, after ')', ';' or ':')."""
    for i in range(1, len(body)):
        prev, char = body[i - 1], body[i]
        if not char.isalnum():
            continue
        before = body[i - 2 : i - 1]
        if prev in ");:" or (prev == "." and (before.isalpha() or before == ")")):
            yield i, True  # a bracket, a colon, or the dot ending a sentence
        elif (
            (prev in ".," and char.isupper())
            or (prev.islower() and (char.isupper() or char.isdigit()))
            or (prev.isdigit() and char.isupper())
            or (prev.isupper() and char.isupper() and body[i + 1 : i + 2].islower())
        ):
            yield i, False
    # "theo mẫuvăn bản đề nghị.docx": a lowercase file name glued to the usual
    # closing words of the name column.
    for match in _NAME_END_GLUED.finditer(body):
        yield match.end(), False


def _split_template(body: str) -> tuple[str, Optional[str]]:
    """Split "...theo mẫuMẫu TP-LS-02.docx" into the name and the form file name(s).

    The file name starts at a glued border (a capital right after a lowercase
    letter, ')', ';', ':' or a sentence '.'). Preferred: the first border that
    opens a form-like name ("Mẫu", "Phụ lục", "PL", ...); else the last border
    after ')', ';' or ':'; else the first border. Without any border the row
    keeps its whole text as the name.
    """
    extension = _TEMPLATE_EXT.search(body)
    borders = sorted((i, strong) for i, strong in _glued_borders(body) if extension and i <= extension.start())
    form_like = [i for i, _ in borders if _FORM_START.match(body, i)]
    punctuated = [i for i, strong in borders if strong]
    if form_like:
        cut = form_like[0]
    elif punctuated:
        cut = punctuated[-1]
    elif borders:
        cut = borders[0][0]
    else:
        return body, None
    name, template = body[:cut].strip(), body[cut:].strip()
    if not name or _TEMPLATE_EXT.fullmatch(template):
        return body, None
    return name, template


def _clean_heading(text: str) -> Optional[str]:
    text = clean_text(text).strip(" -*+:\n")
    return text or None


def _document(body: str, quantity: Optional[re.Match[str]], group: Optional[str]) -> Optional[dict[str, Any]]:
    body = clean_text(body)
    if not body or body in {"-", "--"}:
        return None
    name, template = _split_template(body)
    counts: list[dict[str, Any]] = []
    if quantity:
        originals, copies = int(quantity.group(1)), int(quantity.group(2) or 0)
        if originals:
            counts.append({"count": originals, "kind": "ban_chinh"})
        if copies:
            counts.append({"count": copies, "kind": "ban_sao"})
    return {
        "name": name,
        "template": template,
        "quantity": counts,
        "quantity_text": quantity.group(0) if quantity else "",
        "group": group,
    }


def parse_documents(text: str) -> list[dict[str, Any]]:
    """Split "Thành phần hồ sơ" into rows with form file, quantity and group."""
    if DOCUMENT_HEADER not in text:
        # No table: empty ("--") or text that is not a document list at all.
        return []
    parts = text.split(DOCUMENT_HEADER)
    group = _clean_heading(parts[0])
    documents: list[dict[str, Any]] = []
    for index, part in enumerate(parts[1:], start=1):
        last = index == len(parts) - 1
        position = 0
        for match in _QUANTITY.finditer(part):
            if not _is_quantity_cell(part, match):
                continue
            doc = _document(part[position : match.start()], match, group)
            if doc:
                documents.append(doc)
            position = match.end()
        tail = part[position:]
        if last:
            doc = _document(tail, None, group)
            if doc:
                documents.append(doc)
        else:
            # Text after the last row of a table is the next table's heading.
            group = _clean_heading(tail)
    return documents


# --- legal basis ("Căn cứ pháp lý") ----------------------------------------

LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# "123/2015/NĐ-CP", "60/2014/QH13", "66.7/2025/NQ-CP", "05/VBHN-BTC", "28/2018/QĐ-TTg",
# "46/2005/TTLT/BQP-BKHĐT". Digits only follow "QH" (the legislature), so
# "QH1360/2014/QH13" (number glued to the number cell) splits right.
_LEGAL_SEGMENT = r"(?:[A-ZĐ]*QH\d{2}|[A-ZĐ]+)"
_LEGAL_NUMBER = re.compile(rf"\d+(?:\.\d+)?(?:/\d{{4}})?/{_LEGAL_SEGMENT}(?:-TTg(?![a-z])|[-/]{_LEGAL_SEGMENT})*")
# Kinds of act and issuing bodies that end a legal number. When the next title
# is glued on ("NĐ-CPThông tư", "NĐ-CPLUẬT"), the last segment is cut back to
# the longest of these it starts with.
LEGAL_CODES = frozenset(
    "NĐ ND TT CP BTC QĐ QD BCA NHNN BNNMT NQ BTP BGTVT BNNPTNT TTg TTLT BXD BTNMT BLĐTBXH BYT"
    " PL BHXH BQP BKHĐT BCT UBND BKHCN UBTVQH BNG HĐND BVHTTDL BNV VPCP TANDTC VKSNDTC VBHN"
    " BGDĐT BTTTT CTN NQLT KTNN BTNN QH L".split()
)
_DOC_TYPE_TAIL = re.compile(
    rf"(?<=[{_LOWER}A-ZĐ).])(?:Luật|Bộ luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết"
    r"|Pháp lệnh|Văn bản hợp nhất|Chỉ thị|Công văn)(?: số)?\s*$"
)
_DOC_TYPE_ONLY = re.compile(
    r"(?:Luật|Bộ luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết|Pháp lệnh"
    r"|Văn bản hợp nhất|Chỉ thị)(?: số)?",
    re.IGNORECASE,
)


def _known_code(segment: str) -> bool:
    return segment in LEGAL_CODES or re.fullmatch(r"(?:UBTV)?QH\d{2}", segment) is not None


def _trim_glued_title(number: str) -> str:
    """Cut "NĐ-CPT" (from "NĐ-CPThông tư") back to "NĐ-CP"."""
    last = re.split(r"[-/]", number)[-1]
    if _known_code(last):
        return number
    prefixes = [last[:i] for i in range(len(last) - 1, 0, -1) if _known_code(last[:i])]
    if prefixes:
        return number[: len(number) - len(last) + len(prefixes[0])]
    return number


def _legal_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """Legal numbers that end a row: glued to the next title, or at the end.

    Inside a title a number is followed by " ngày", ",", ")": those are skipped.
    """
    for match in _LEGAL_NUMBER.finditer(text):
        number = _trim_glued_title(match.group(0))
        end = match.start() + len(number)
        following = text[end:].lstrip()
        if not following or following[0].isupper() or following[0].isdigit():
            yield match.start(), end, number


def parse_legal_basis(text: str) -> list[dict[str, Any]]:
    """Split "Căn cứ pháp lý" into (title, number) rows."""
    body = text.split(LEGAL_HEADER, 1)[1] if LEGAL_HEADER in text else text
    body = clean_text(body).replace("\n", " ")
    if not body or body == _NO_INFO:
        return []
    refs: list[dict[str, Any]] = []
    position = 0
    for start, end, number in _legal_numbers(body):
        title = body[position:start]
        # A row whose number cell repeats its doc type: "...Bộ Tư phápThông tư số 03/2023/TT-BTP".
        title = _DOC_TYPE_TAIL.sub("", title).strip(" ,;:.")
        position = end
        if _DOC_TYPE_ONLY.fullmatch(title) or title.endswith(" số"):
            title = f"{title} {number}"  # the record's title is just "Luật" + the number
        if not title:
            if refs and refs[-1]["number"] is None:
                refs[-1]["number"] = number
            continue
        refs.append({"title": title, "number": number})
    tail = body[position:].strip(" ,;")
    if tail:
        refs.append({"title": tail, "number": None})
    return refs


# --- result, steps, conditions, levels, audience ---------------------------

# "Mã: KQ.G15.000033", "Mã: 000.00.00.G04-KQ1786", and the portal's placeholders
# ("Mã: Chưa xác định", "Mã: Test_P001", "Mã: rjwegefu").
_RESULT_CODE = re.compile(
    r"Mã: ?(?:[A-Za-z0-9][A-Za-z0-9.\-]*\d|[A-Z]{2,}(?![a-zà-ỹ])|Chưa xác định(?: rõ)?|Test_\w+|[a-z]+(?![a-zà-ỹ]))"
)
_PAGE_CHROME = ("Từ khóa", "Chọn cơ quan thực hiện", "Nộp hồ sơ")


def parse_result(text: str) -> list[str]:
    """Result document names; the page chrome after them is discarded."""
    cut = len(text)
    for marker in _PAGE_CHROME:
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    parts = _RESULT_CODE.split(text[:cut])
    names = [clean_text(part.split("Mã:")[0]).strip(" .;") for part in parts]
    return [name for name in names if name and name != _NO_INFO]


_STEP_MARKER = re.compile(r"(?:[-+]\s*)?Bước\s*\d+\s*[:.)-]")


def parse_steps(text: str) -> list[str]:
    """Paragraphs of "Trình tự thực hiện" (split on "Bước N" when on one line)."""
    text = clean_text(text)
    if text == _NO_INFO:
        return []
    if "\n" in text:
        lines = text.split("\n")
    else:
        starts = [0] + [m.start() for m in _STEP_MARKER.finditer(text) if m.start() > 0] + [len(text)]
        lines = [text[a:b] for a, b in zip(starts, starts[1:])]
    steps: list[str] = []
    for line in lines:
        line = line.strip()
        if line and (not steps or steps[-1] != line):
            steps.append(line)
    return steps


_EMPTY_CONDITIONS = {"", "khong", "khong co", "khong co thong tin", "khong quy dinh", "khong co yeu cau"}


def parse_conditions(text: str) -> list[str]:
    """Conditions, one per paragraph; empty when the record says there are none."""
    text = clean_text(text)
    if fold(text).strip(" .;") in _EMPTY_CONDITIONS:
        return []
    return [line.strip() for line in text.split("\n") if line.strip()]


LEVELS = {"Cấp bộ": "bo", "Cấp tỉnh": "tinh", "Cấp xã": "xa", "Cơ quan khác": "khac"}


def parse_levels(text: str) -> list[str]:
    """Map "Cấp bộ, Cấp tỉnh" to ["bo", "tinh"]; the importer logs unknown parts."""
    return [LEVELS[part.strip()] for part in text.split(",") if part.strip() in LEVELS]


def parse_audience(text: str) -> list[str]:
    """Split the comma-joined categories.

    Commas inside brackets ("Tổ chức (không bao gồm doanh nghiệp, HTX)") and
    before a lowercase word ("Cán bộ, công chức, viên chức") do not split.
    """
    audience: list[str] = []
    for part in re.split(r",\s*(?![^()]*\))", clean_text(text)):
        part = part.strip()
        if not part:
            continue
        if audience and part[0].islower():
            audience[-1] = f"{audience[-1]}, {part}"
        else:
            audience.append(part)
    return audience


# --- online level ----------------------------------------------------------

_STATED_FULL = re.compile(r"trực tuyến toàn trình|dịch vụ công toàn trình|toàn trình", re.IGNORECASE)
_STATED_PARTIAL = re.compile(r"trực tuyến một phần", re.IGNORECASE)


def parse_online_level(name: str, steps: str, channels: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(level, basis, evidence) from the wording, else inferred from the channels.

    Stated: the name or the steps say "toàn trình" (full) or "trực tuyến một
    phần" (partial). Inferred: no online channel -> none; an online channel ->
    partial, the level the record guarantees (full online is never assumed);
    no channel parsed -> unknown.
    """
    for source, text in (("tên thủ tục", name), ("trình tự thực hiện", steps)):
        partial, full = _STATED_PARTIAL.search(text), _STATED_FULL.search(text)
        match = partial or full
        if match:
            snippet = clean_text(text[max(0, match.start() - 60) : match.end() + 20]).replace("\n", " ")
            return ("partial" if partial else "full"), "stated", f"{source}: …{snippet}…"
    kinds = {channel["kind"] for channel in channels}
    if not kinds:
        return "unknown", "inferred", "không tách được kênh nộp nào từ cách thức thực hiện"
    if "online" not in kinds:
        return "none", "inferred", "cách thức thực hiện không có kênh Trực tuyến"
    return "partial", "inferred", "có kênh Trực tuyến; hồ sơ không ghi 'toàn trình' nên không coi là toàn trình"


# --- page text ---------------------------------------------------------------

PAGE_LABELS = {
    "steps": "Trình Tự Thực Hiện",
    "channels": "Cách Thức Thực Hiện",
    "documents": "Thành phần hồ sơ",
    "legal_basis": "Căn cứ pháp lý",
}


def page_sections(raw_text: str) -> dict[str, str]:
    """Sections of the whole page text, cut at the section labels in page order.

    Used when a record's own fields were split at the wrong place: in about 25
    social-insurance records the documents field holds the tail of the steps
    ("...theo quy định tại mục 9.3 (Thành phần hồ sơ) và nộp..."). Each label is
    searched after the previous one; the channels table always starts with its
    header, which anchors the documents label that follows it.
    """
    positions: list[tuple[str, int, int]] = []
    start = 0
    for key, label in PAGE_LABELS.items():
        anchor = label + CHANNEL_HEADER if key == "channels" else label
        index = raw_text.find(anchor, start)
        if index < 0:
            return {}
        positions.append((key, index, index + len(label)))
        start = index + len(label)
    sections = {}
    for i, (key, _, body_start) in enumerate(positions):
        end = positions[i + 1][1] if i + 1 < len(positions) else len(raw_text)
        sections[key] = raw_text[body_start:end]
    return sections
