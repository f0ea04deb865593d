from pathlib import Path

import pytest

from bot.settings import SETTINGS, Settings, SettingsError


def test_defaults_serve_the_web_chat_on_localhost_8080_with_sqlite_under_var():
    s = Settings.load(environ={}, env_file=None)
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.database_url_resolved.startswith("sqlite:///") and s.database_url_resolved.endswith("var/assistant.db")


@pytest.mark.parametrize(
    "name, value",
    [("PORT", "abc"), ("PORT", "70000"), ("DATABASE_URL", "assistant.db"), ("NLU_CONFIDENCE", "2"),
     ("LOG_LEVEL", "LOUD"), ("FLOW_TTL_MINUTES", "0")],
)
def test_a_bad_value_is_rejected_with_the_variable_named(name, value):
    with pytest.raises(SettingsError, match=f"^{name}="):
        Settings.load(environ={name: value}, env_file=None)


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text("# local\nPORT=9001\nDESK_HOTLINE='1900 1234'\nexport HOST=0.0.0.0\n", encoding="utf-8")
    s = Settings.load(environ={"PORT": "9002"}, env_file=env)
    assert (s.port, s.host, s.desk_hotline) == (9002, "0.0.0.0", "1900 1234")


def test_a_malformed_env_file_line_is_reported_with_file_and_line(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text("PORT=9001\nthis is not a setting\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\.env:2: expected KEY=VALUE"):
        Settings.load(environ={}, env_file=env)


def test_postgresql_urls_are_accepted_as_they_are():
    url = "postgresql://tthc:secret@db.internal:5432/tthc"
    assert Settings.load(environ={"DATABASE_URL": url}, env_file=None).database_url_resolved == url


def test_every_setting_has_a_field_and_every_field_a_setting():
    from dataclasses import fields

    assert {f.name for f in fields(Settings)} == {s.name.lower() for s in SETTINGS}


def test_the_readme_documents_every_setting(project_root: Path):
    readme = (project_root / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert not missing, f"README settings table lacks {missing}"
