"""The typed environment readers fail loudly and honour NAME_FILE."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from controlpanel.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)


@pytest.fixture(autouse=True)
def no_panel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure the made-up variables these tests use start out unset."""
    for name in ("PANEL_TEST_VALUE", "PANEL_TEST_VALUE_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_understands_common_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("PANEL_TEST_VALUE", raw)
    assert env_bool("PANEL_TEST_VALUE", not expected) is expected


def test_env_bool_uses_default_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_bool("PANEL_TEST_VALUE", True) is True
    monkeypatch.setenv("PANEL_TEST_VALUE", "")
    assert env_bool("PANEL_TEST_VALUE", False) is False


def test_env_bool_rejects_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANEL_TEST_VALUE", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"PANEL_TEST_VALUE .*'maybe'"):
        env_bool("PANEL_TEST_VALUE", False)


def test_env_int_parses_and_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_int("PANEL_TEST_VALUE", 7) == 7
    monkeypatch.setenv("PANEL_TEST_VALUE", " 42 ")
    assert env_int("PANEL_TEST_VALUE", 7) == 42
    monkeypatch.setenv("PANEL_TEST_VALUE", "abc")
    with pytest.raises(ImproperlyConfigured, match=r"PANEL_TEST_VALUE must be an integer.*'abc'"):
        env_int("PANEL_TEST_VALUE", 7)


def test_env_float_parses_and_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_float("PANEL_TEST_VALUE", 0.5) == 0.5
    monkeypatch.setenv("PANEL_TEST_VALUE", "2.5")
    assert env_float("PANEL_TEST_VALUE", 0.5) == 2.5
    monkeypatch.setenv("PANEL_TEST_VALUE", "fast")
    with pytest.raises(ImproperlyConfigured, match=r"PANEL_TEST_VALUE must be a number.*'fast'"):
        env_float("PANEL_TEST_VALUE", 0.5)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_list("PANEL_TEST_VALUE", ["a"]) == ["a"]
    monkeypatch.setenv("PANEL_TEST_VALUE", " panel.example.com, ,localhost ,")
    assert env_list("PANEL_TEST_VALUE", ["a"]) == ["panel.example.com", "localhost"]
    monkeypatch.setenv("PANEL_TEST_VALUE", "")
    assert env_list("PANEL_TEST_VALUE", ["a"]) == []


def test_env_str_returns_value_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_str("PANEL_TEST_VALUE", "fallback") == "fallback"
    monkeypatch.setenv("PANEL_TEST_VALUE", "Europe/Paris")
    assert env_str("PANEL_TEST_VALUE", "fallback") == "Europe/Paris"


def test_file_variant_wins_and_is_stripped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "value"
    secret.write_text("from-the-file\n", encoding="utf-8")
    monkeypatch.setenv("PANEL_TEST_VALUE", "from-the-environment")
    monkeypatch.setenv("PANEL_TEST_VALUE_FILE", str(secret))
    assert env_str("PANEL_TEST_VALUE", "") == "from-the-file"


def test_file_variant_is_typed_and_named_in_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    value_file = tmp_path / "value"
    value_file.write_text("12\n", encoding="utf-8")
    monkeypatch.setenv("PANEL_TEST_VALUE_FILE", str(value_file))
    assert env_int("PANEL_TEST_VALUE", 0) == 12
    value_file.write_text("twelve\n", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=r"from PANEL_TEST_VALUE_FILE.*'twelve'"):
        env_int("PANEL_TEST_VALUE", 0)


def test_unreadable_file_variant_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PANEL_TEST_VALUE_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="PANEL_TEST_VALUE_FILE points to"):
        env_str("PANEL_TEST_VALUE", "")


def test_postgres_url_becomes_a_postgresql_database(tmp_path: Path) -> None:
    url = "postgres://panel:p%40ss%2Fword@db.internal:6432/control_panel?sslmode=require"
    assert parse_database_url(url, tmp_path) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "control_panel",
        "USER": "panel",
        "PASSWORD": "p@ss/word",
        "HOST": "db.internal",
        "PORT": "6432",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgres_url_without_port_leaves_it_to_the_driver(tmp_path: Path) -> None:
    database = parse_database_url("postgresql://panel:secret@db/panel", tmp_path)
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db", "", "panel")


def test_postgres_url_must_name_the_database(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="must name the database"):
        parse_database_url("postgres://panel:secret@db:5432/", tmp_path)


def test_sqlite_urls_with_three_slashes_are_relative_four_absolute(tmp_path: Path) -> None:
    relative = parse_database_url("sqlite:///var/panel.sqlite3", tmp_path)
    absolute = parse_database_url("sqlite:////srv/panel/db.sqlite3", tmp_path)
    assert relative == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "var" / "panel.sqlite3"),
    }
    assert absolute["NAME"] == "/srv/panel/db.sqlite3"


def test_unsupported_database_url_does_not_echo_the_password(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="unsupported scheme 'mysql'") as excinfo:
        parse_database_url("mysql://panel:hunter2@db/panel", tmp_path)
    assert "hunter2" not in str(excinfo.value)
