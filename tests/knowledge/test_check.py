"""`python -m knowledge check`: every bad entry reported with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.__main__ import main
from knowledge._knowledge_base import KNOWLEDGE_ROOT

GUIDE = "khai-sinh"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge (the catalog is linked, not copied)."""
    (tmp_path / "catalog").symlink_to(KNOWLEDGE_ROOT / "catalog")
    shutil.copytree(KNOWLEDGE_ROOT / "guides", tmp_path / "guides")
    for name in ("abbreviations.yml", "fillers.yml", "acts.yml"):
        shutil.copy(KNOWLEDGE_ROOT / name, tmp_path / name)
    return tmp_path


def _check(root: Path, capsys) -> tuple[int, list[str]]:
    status = main(["check", "--root", str(root)])
    return status, capsys.readouterr().out.splitlines()


def _edit(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace the first occurrence; return the 1-based line number it was on."""
    text = path.read_text(encoding="utf-8")
    index = text.index(old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return text[:index].count("\n") + 1


def test_shipped_files_pass(root, capsys):
    status, lines = _check(root, capsys)
    assert (status, lines) == (0, [])


def test_unknown_walkthrough_mode_is_reported_with_line_and_field(root, capsys):
    guide = root / "guides" / f"{GUIDE}.yml"
    line = _edit(guide, "applies_to: [full, partial]", "applies_to: [full, ful]")
    status, lines = _check(root, capsys)
    assert status == 1
    assert lines == [f"{guide}:{line}: online_walkthrough[1].applies_to: unknown value 'ful' (allowed: full, partial, postal)"]


@pytest.mark.parametrize(
    "old, new, field, message",
    [
        ("code: '1.001193'", "code: '1.999999'", "code", "1.999999 is not in the catalog"),
        ("code: '1.001193'", "code: 'khai sinh'", "code", "not a procedure code like '1.001193'"),
        ("slug: khai-sinh", "slug: khai-sinh-2", "slug", "'khai-sinh-2' but the file is khai-sinh.yml"),
        ("- id: dang-nhap", "- id: Dang Nhap", "online_walkthrough[2].id", "step id must be lowercase-with-dashes"),
        (
            "  document: giay-chung-sinh-truong-hop-khong-co-giay",
            "  document: giay-phep-lai-xe",
            "documents_to_prepare[1].document",
            "no document of 1.001193 has the key 'giay-phep-lai-xe'",
        ),
        ("- channels.fee", "- channels.price", "facts_from", "not a field of Channel: 'channels.price'"),
        ("title: Đăng ký khai sinh", "titel: Đăng ký khai sinh", "titel", "unknown field"),
        ("  only_if: has_fee", "  only_if: always", "online_walkthrough[7].only_if", "unknown value 'always'"),
    ],
)
def test_bad_guide_entries(root, capsys, old, new, field, message):
    guide = root / "guides" / f"{GUIDE}.yml"
    line = _edit(guide, old, new)
    status, lines = _check(root, capsys)
    assert status == 1
    assert any(x.startswith(f"{guide}:{line}: {field}: ") and message in x for x in lines), lines


def test_step_for_a_channel_the_record_does_not_offer(root, capsys):
    # Chứng thực bản sao is in person only: an online step would promise what the record does not.
    guide = root / "guides" / "chung-thuc-ban-sao.yml"
    _edit(
        guide,
        "online_walkthrough: []",
        "online_walkthrough:\n- id: nop\n  title: Nộp\n  text: Nộp trên Cổng.\n  applies_to: [partial]",
    )
    status, lines = _check(root, capsys)
    assert status == 1
    assert any(": online_walkthrough[0].applies_to: 'partial' but 2.000815 lists no online channel" in x for x in lines), lines


def test_alias_claimed_by_two_guides(root, capsys):
    guide = root / "guides" / "khai-tu.yml"
    _edit(guide, "- đăng ký khai tử\n", "- làm giấy khai sinh\n")
    status, lines = _check(root, capsys)
    assert status == 1
    assert any("aliases[" in x and "'làm giấy khai sinh' is also an alias in khai-sinh.yml" in x for x in lines), lines


def test_invalid_yaml_reports_the_line(root, capsys):
    guide = root / "guides" / f"{GUIDE}.yml"
    line = _edit(guide, "aliases:\n", "aliases: [\n")
    status, lines = _check(root, capsys)
    assert status == 1
    assert lines and lines[0].startswith(f"{guide}:") and "invalid YAML" in lines[0]
    assert int(lines[0].split(":")[1]) > line


def test_bad_catalog_line_is_reported_with_line_and_field(tmp_path, capsys):
    source = KNOWLEDGE_ROOT / "catalog" / "toa-an-nhan-dan.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()
    (tmp_path / "catalog").mkdir()
    broken = [lines[0], lines[1].replace('"online_level":"', '"online_level":"mostly-'), "{not json"]
    target = tmp_path / "catalog" / "toa-an-nhan-dan.jsonl"
    target.write_text("\n".join(broken) + "\n", encoding="utf-8")
    (tmp_path / "catalog" / "COVERAGE.json").write_text('{"records": 1}', encoding="utf-8")
    (tmp_path / "guides").mkdir()
    for name in ("abbreviations.yml", "fillers.yml"):
        shutil.copy(KNOWLEDGE_ROOT / name, tmp_path / name)
    status, out = _check(tmp_path, capsys)
    assert status == 1
    assert out[0].startswith(f"{target}:2: online_level: unknown value 'mostly-")
    assert out[1].startswith(f"{target}:3: invalid JSON")


def test_acts_that_are_not_a_list_of_phrases_are_reported_with_line(root, capsys):
    path = root / "acts.yml"
    line = _edit(path, "acts:\n", "acts:\n  cấp lại: yes\n")
    kept = [row for row in path.read_text(encoding="utf-8").splitlines() if not row.startswith("  - ")]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    status, out = _check(root, capsys)
    assert status == 1
    assert any(o.startswith(f"{path}:{line + 1}: acts: expected a list of phrases") for o in out), out


def test_signals_of_a_bad_shape_are_reported(root, capsys):
    shutil.copy(KNOWLEDGE_ROOT / "signals.yml", root / "signals.yml")
    _edit(root / "signals.yml", "dưới 14 tuổi: [0, 13]", "dưới 14 tuổi: [0, 1000]")
    status, out = _check(root, capsys)
    assert status == 1
    assert any("signals.yml" in o and "ages" in o for o in out), out
