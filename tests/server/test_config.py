"""Settings: defaults, then the TOML file named by DMP_CONFIG, then DMP_* variables."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from server.config import DEFAULTS, load_settings

EXAMPLE = Path(__file__).parents[2] / "config" / "server.example.toml"


def test_the_example_file_documents_every_setting_with_its_default() -> None:
    with EXAMPLE.open("rb") as fh:
        example = tomllib.load(fh)
    assert example == DEFAULTS


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dmp.toml"
    path.write_text('CONSENT_SECONDS = 60\nDATABASE_URL = "sqlite:///from-file"\n')
    monkeypatch.setenv("DMP_CONFIG", str(path))
    monkeypatch.setenv("DMP_CONSENT_SECONDS", "120")
    monkeypatch.setenv("DMP_INS_TEST_OIDS", "false")
    settings = load_settings({"DEFAULT_LIST_YEARS": 5})
    assert settings["DATABASE_URL"] == "sqlite:///from-file"
    assert settings["CONSENT_SECONDS"] == 120
    assert settings["INS_TEST_OIDS"] is False
    assert settings["DEFAULT_LIST_YEARS"] == 5


def test_an_unknown_setting_in_the_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dmp.toml"
    path.write_text("CONSENT_HOURS = 1\n")
    monkeypatch.setenv("DMP_CONFIG", str(path))
    with pytest.raises(ValueError, match="CONSENT_HOURS"):
        load_settings()
