"""The kiosk's settings: the example file documents exactly the defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kiosk import config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "kiosk.example.toml"


def test_example_file_equals_the_defaults() -> None:
    assert tomllib.loads(EXAMPLE.read_text(encoding="utf-8")) == config.DEFAULTS


def test_environment_overrides_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMP_KIOSK_IDLE_SECONDS", "90")
    monkeypatch.setenv("DMP_KIOSK_COOKIE_SECURE", "false")
    monkeypatch.setenv("DMP_KIOSK_SERVER_TIMEOUT_SECONDS", "2.5")
    settings = config.load_settings()
    assert settings["IDLE_SECONDS"] == 90
    assert settings["COOKIE_SECURE"] is False
    assert settings["SERVER_TIMEOUT_SECONDS"] == 2.5


def test_unknown_setting_and_bad_reader_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "kiosk.toml"
    bad.write_text("IDLE_SECOND = 10\n", encoding="utf-8")
    monkeypatch.setenv("DMP_KIOSK_CONFIG", str(bad))
    with pytest.raises(ValueError, match="unknown settings"):
        config.load_settings()
    monkeypatch.delenv("DMP_KIOSK_CONFIG")
    with pytest.raises(ValueError, match="READER"):
        config.load_settings({"READER": "usb"})
